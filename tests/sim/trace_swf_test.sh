#!/usr/bin/env bash
# sim.trace_swf: the two whole SWF logs in data/ load through the real
# reader (fedmesh sim trace: node_sim_load_trace, gzip), and every figure it
# prints matches what awk counts in the same file on its own: lines,
# comments, jobs, and each rule of sim/trace.h. Then the GPU jobs CSV, a
# malformed line (strict: exit 3 naming file and line; --lenient: counted)
# and a damaged gzip file.
set -euo pipefail
fedmesh=${1:?usage: trace_swf_test.sh FEDMESH REPO_ROOT}
root=${2:?usage: trace_swf_test.sh FEDMESH REPO_ROOT}
export LC_ALL=C
command -v jq >/dev/null || { echo "sim.trace_swf: SKIPPED: jq is not installed (scripts/test installs it)"; exit 77; }
tmp=$(mktemp -d "${MESH_TEST_TMPDIR:-/tmp}/trace_swf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

expect() { # expect WHAT GOT WANT
  if [ "$2" != "$3" ]; then echo "sim.trace_swf: $1: got $2, want $3"; fail=1; fi
}

# What an independent reading of the SWF file says, as "key value" lines.
swf_counts() {
  zcat -f "$1" | awk '
    { lines++ }
    /^[ \t]*$/ { blank++; next }
    /^[ \t]*;/ { comments++; next }
    {
      read++
      if ($5 > 0) procs = $5
      else if ($8 > 0) { procs = $8; from_requested++ }
      else if ($5 == 0 || $8 == 0) { zero++; next }
      else { unknown++; next }
      if ($4 == -1) { runtime_unknown++; next }
      kept++
      if ($4 == 0) runtime_zero++
      if ($9 == -1) request_unknown++
      else if ($9 < $4) request_below_run++
    }
    END {
      printf "lines %d\ncomments %d\nblank %d\njobs_read %d\njob_count %d\n", lines, comments, blank, read, kept
      printf "procs_from_requested %d\nprocs_zero %d\nprocs_unknown %d\n", from_requested, zero, unknown
      printf "runtime_unknown %d\nruntime_zero %d\n", runtime_unknown, runtime_zero
      printf "request_unknown %d\nrequest_below_run %d\n", request_unknown, request_below_run
    }'
}

for log in workload-kth-sp2-1996.swf.gz workload-nasa-ipsc-1993.swf.gz; do
  file=$root/data/$log
  json=$("$fedmesh" sim trace "$file" --json)
  while read -r key want; do
    expect "$log $key" "$(jq -r ".$key" <<<"$json")" "$want"
  done < <(swf_counts "$file")
  expect "$log skipped_malformed" "$(jq -r .skipped_malformed <<<"$json")" 0
  expect "$log gpus_max" "$(jq -r .gpus_max <<<"$json")" 0
  # The header, read with awk.
  unix=$(zcat "$file" | awk '/^; UnixStartTime:/ && u == "" { u = $3 } END { print u }')
  first=$(zcat "$file" | grep -v '^[ \t]*;' | awk 'NR == 1 || $2 < m { m = $2 } END { print m }')
  expect "$log start_unix_s" "$(jq -r .start_unix_s <<<"$json")" $((unix + first))
  procs=$(zcat "$file" | awk '/^; MaxProcs:/ && p == "" { p = $3 } END { print p }')
  expect "$log max_procs" "$(jq -r .max_procs <<<"$json")" "$procs"
  echo "sim.trace_swf: $log: $(jq -r .job_count <<<"$json") jobs, counters as awk counts them"
done

# The KTH log in data/ is the shared original, gzipped: the same lines.
if [ -r "$root/../shared/data/workload-KTH-SP2-1996-2.1-cln.swf" ]; then
  cmp <(zcat "$root/data/workload-kth-sp2-1996.swf.gz") "$root/../shared/data/workload-KTH-SP2-1996-2.1-cln.swf" ||
    { echo "sim.trace_swf: data/workload-kth-sp2-1996.swf.gz is not the shared original"; fail=1; }
fi

# The GPU jobs CSV: one job per data line, GPUs as the file says.
csv=$root/data/workload-azure-llm-code-gpu.csv
json=$("$fedmesh" sim trace "$csv" --json)
expect "csv job_count" "$(jq -r .job_count <<<"$json")" "$(($(wc -l < "$csv") - 1))"
expect "csv gpus_max" "$(jq -r .gpus_max <<<"$json")" "$(awk -F, 'NR > 1 && $5 > m { m = $5 } END { print m }' "$csv")"
expect "csv start_unix_s" "$(jq -r .start_unix_s <<<"$json")" "$(awk -F, 'NR == 2 { print $2 }' "$csv")"

# A malformed line: strict names the file and the line, lenient counts it.
bad=$tmp/bad.swf
{ echo "; Version: 2.2"; echo "1 0 -1 10 4 -1 -1 4 20 -1 1 1 1 -1 -1 -1 -1 -1";
  echo "2 5 -1 10 four -1 -1 4 20 -1 1 1 1 -1 -1 -1 -1 -1";
  echo "3 9 -1 10 4 -1 -1 4 20 -1 1 1 1 -1 -1 -1 -1 -1"; } > "$bad"
set +e
message=$("$fedmesh" sim trace "$bad" 2>&1 >/dev/null); rc=$?
set -e
expect "strict exit code" $rc 3
case $message in *"$bad:3: field 5"*) ;; *) echo "sim.trace_swf: strict error does not name $bad:3: $message"; fail=1 ;; esac
json=$("$fedmesh" sim trace "$bad" --lenient --json)
expect "lenient job_count" "$(jq -r .job_count <<<"$json")" 2
expect "lenient skipped_malformed" "$(jq -r .skipped_malformed <<<"$json")" 1
gzip -c "$bad" > "$bad.gz"
expect "gzip job_count" "$("$fedmesh" sim trace "$bad.gz" --lenient --json | jq -r .job_count)" 2

# A damaged gzip file: an error naming the file, not a crash or a partial trace.
head -c 200 "$root/data/workload-nasa-ipsc-1993.swf.gz" > "$tmp/cut.swf.gz"
set +e
message=$("$fedmesh" sim trace "$tmp/cut.swf.gz" 2>&1 >/dev/null); rc=$?
set -e
expect "damaged gzip exit code" $rc 3
case $message in *"$tmp/cut.swf.gz"*) ;; *) echo "sim.trace_swf: damaged gzip: $message"; fail=1 ;; esac
set +e
"$fedmesh" sim trace "$tmp/none.swf" 2>/dev/null; rc=$?
set -e
expect "missing file exit code" $rc 3

[ $fail -eq 0 ] && echo "sim.trace_swf: ok"
exit $fail
