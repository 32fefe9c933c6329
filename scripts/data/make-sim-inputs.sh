#!/usr/bin/env bash
# scripts/data/make-sim-inputs.sh: makes the simulator's input files in
# data/ from the originals in the shared data set (see data/PROVENANCE.md,
# which says what each step does and why):
#   data/workload-kth-sp2-1996.swf.gz     the whole KTH SP2 log, gzipped
#   data/workload-nasa-ipsc-1993.swf.gz   the NASA iPSC log, copied
#   data/latency-eu-sites.csv             a,b,rtt_ms from data/latency-eu-rtt-ms.csv
#   data/carbon-fr-2020-hourly.csv        ENTSO-E FR, hourly means of 2020
#   data/carbon-de-2020-hourly.csv        ENTSO-E DE, hourly means of 2020
#   data/workload-azure-llm-code-gpu.csv  Azure LLM code trace as GPU jobs
# Every output is a pure function of its original: running this again
# gives byte-identical files (gzip -n leaves out the name and time).
#
# usage: scripts/data/make-sim-inputs.sh [SHARED_DATA_DIR]   (default ../shared/data)
set -euo pipefail
export LC_ALL=C # awk's number parsing and printing, sort order
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${1:-$root/../shared/data}
out=$root/data

check() { # check FILE SHA256: the original is the one PROVENANCE.md names
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || { echo "error: $1: sha256 $got, want $2" >&2; exit 1; }
}

kth=$shared/workload-KTH-SP2-1996-2.1-cln.swf
nasa=$shared/workload-NASA-iPSC-1993-3.1-cln.swf.gz
rtt=$out/latency-eu-rtt-ms.csv
fr=$shared/carbon-FR-2020-30min-entsoe.csv
de=$shared/carbon-DE-2020-15min-entsoe.csv
azure=$shared/workload-azure-llm-inference-2023-code.csv
check "$kth" df76b94e5f670db52179688a98deec3e1887d10adb39f96c900b8e92abb386ab
check "$nasa" 5589ae9b2fb78e3bf92de097497cf33a91607de1ad54563e43533f7827597f29
check "$fr" c097e7f5c64afdfb6e168fc4ba5a920b90f84614fe7eb4e60f2daf65cdde0142
check "$de" bb9aa67ed4ce191d8fa0d48346c0c6c0fa8fe82f8e4c94e7cf1c8156c7fb001c
check "$azure" 54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6

# 1. The SWF logs: byte for byte (KTH gzipped, NASA already is).
gzip -9 -n -c "$kth" > "$out/workload-kth-sp2-1996.swf.gz"
install -m 644 "$nasa" "$out/workload-nasa-ipsc-1993.swf.gz"

# 2. The latency table: one row per unordered pair of the 12 cities, in the
# matrix's row order, a before b; the value as the matrix writes it.
awk -F, '
  NR == 1 { for (i = 4; i <= NF; i++) city[i - 3] = $i; n = NF - 3; print "a,b,rtt_ms"; next }
  { row = NR - 1; for (j = row + 1; j <= n; j++) print $1 "," city[j] "," $(j + 3) }
' "$rtt" > "$out/latency-eu-sites.csv"

# 3. Carbon: the mean of the samples whose timestamp falls in each hour of
# 2020 (the timestamps are UTC: no daylight-saving gap or repeat), printed
# with three decimals. Fails if an hour of 2020 has no sample.
hourly() { # hourly IN OUT
  awk -F, '
    NR == 1 { next }
    substr($1, 1, 4) == "2020" {
      hour = substr($1, 1, 13)
      if (!(hour in count)) order[++hours] = hour
      sum[hour] += $2; count[hour]++
    }
    END {
      if (hours != 8784) { printf "error: %d hours of 2020, want 8784\n", hours > "/dev/stderr"; exit 1 }
      print "time,gco2_per_kwh"
      for (i = 1; i <= hours; i++) { h = order[i]; printf "%s:00:00,%.3f\n", h, sum[h] / count[h] }
    }
  ' "$1" > "$2"
}
hourly "$fr" "$out/carbon-fr-2020-hourly.csv"
hourly "$de" "$out/carbon-de-2020-hourly.csv"

# 4. Azure LLM inference (code) as GPU jobs. The model, stated in
# data/PROVENANCE.md: requests are batched per 10-second window of their
# arrival (UTC, aligned to the minute); a window's GPU work is
#   W = sum(ContextTokens) / 5000 + sum(GeneratedTokens) / 500   GPU-seconds
# (prefill 5,000 tokens and batched decode 500 tokens per GPU-second); it
# is served by gpus = ceil(W / 10) GPUs (enough to serve the window within
# the window), each one job of 1 GPU and 8 vCPUs submitted at the window's
# start, running W / gpus seconds (rounded up to the millisecond) and
# requesting the 10 s window: inference replicas, which a site may run
# anywhere it has a GPU (bursting moves some of them to another site).
awk -F, '
  function days_from_civil(y, m, d,    era, yoe, doy, doe) {
    y -= (m <= 2); era = int(y / 400); yoe = y - era * 400
    doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
    doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
    return era * 146097 + doe - 719468
  }
  NR == 1 { next }
  {
    y = substr($1, 1, 4) + 0; mo = substr($1, 6, 2) + 0; d = substr($1, 9, 2) + 0
    h = substr($1, 12, 2) + 0; mi = substr($1, 15, 2) + 0; s = substr($1, 18, 2) + 0
    t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + s
    w = t - t % 10
    if (!(w in context)) order[++windows] = w
    context[w] += $2; generated[w] += $3; requests[w]++
  }
  END {
    print "id,submit_s,run_s,request_s,gpu,vcpu"
    for (i = 1; i <= windows; i++) {
      w = order[i]
      work = context[w] / 5000 + generated[w] / 500
      gpus = int(work / 10); if (gpus * 10 < work) gpus++
      if (gpus < 1) gpus = 1
      ms = int(work / gpus * 1000); if (ms < work / gpus * 1000) ms++
      for (g = 1; g <= gpus; g++) {
        printf "%d,%d,%d.%03d,10,1,8\n", ++jobs, w, int(ms / 1000), ms % 1000
      }
    }
  }
' "$azure" > "$out/workload-azure-llm-code-gpu.csv"

( cd "$out" && sha256sum workload-kth-sp2-1996.swf.gz workload-nasa-ipsc-1993.swf.gz \
    latency-eu-sites.csv carbon-fr-2020-hourly.csv carbon-de-2020-hourly.csv \
    workload-azure-llm-code-gpu.csv )
