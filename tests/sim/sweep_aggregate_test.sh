#!/usr/bin/env bash
# sim.sweep_aggregate: `fedmesh sim aggregate DIR` over a sweep directory
# written here by hand (runs.tsv and runs/TAG/seed-S/summary.json), with
# known figures: the mean, the sample standard deviation and the 95 %
# confidence interval of the mean are computed here independently (awk,
# and Student's t quantiles from a published table: t(0.975; 4) =
# 2.776445, t(0.975; 3) = 3.182446), and compared with sweep.csv and
# sweep.json. A missing run (no summary.json, exit_code 3) is listed and
# counted, never averaged; a run with an invariant violation is counted
# and listed; the exit code is then 1. A parameter set with one run has no
# spread. A malformed runs.tsv is refused with its line.
#
# usage: sweep_aggregate_test.sh FEDMESH
set -u
fedmesh=$(realpath "$1")
# ok, bad, finish and test_begin (a scratch directory $dir, removed at exit).
. "$(cd "$(dirname "$0")" && pwd)/../integration/lib.sh"
test_begin sim_aggregate
work=$dir
S=$work/sweep
mkdir -p "$S"

# Three parameter sets of burst_threshold; wait_s_p95 and jobs_burst per seed.
declare -A wait=([0.5, 1]=100 [0.5, 2]=120 [0.5, 3]=90 [0.5, 4]=130 [0.5, 5]=110
  [0.8, 1]=200 [0.8, 2]=260 [0.8, 3]=230 [0.8, 4]=999 [0.8, 5]=250
  [0.9, 1]=42)
printf '# hand-made\n' >"$S/runs.tsv"
index=0
set_number=0
summary() { # SEED WAIT VIOLATIONS
  jq -n --argjson seed "$1" --argjson w "$2" --argjson v "$3" '{scenario: "s", seed: $seed, mesh: true,
    digest: "ab", wait_s_p95: $w, jobs_burst: ($seed * 2), invariant_violations: $v,
    policy_violations: 0, utilisation: {a: 0.5}, sites: []}'
}
for t in 0.5 0.8 0.9; do
  tag=p0000${set_number}_federation.burst_threshold=$t
  set_number=$((set_number + 1))
  seeds="1 2 3 4 5"
  [ "$t" = 0.9 ] && seeds=1
  for s in $seeds; do
    printf '%d\t%s\t%d\tfederation.burst_threshold=%s\n' $index "$tag" "$s" "$t" >>"$S/runs.tsv"
    index=$((index + 1))
    d=$S/runs/$tag/seed-$s
    mkdir -p "$d"
    if [ "$t" = 0.8 ] && [ "$s" = 4 ]; then
      echo 3 >"$d/exit_code" # failed: no summary
      continue
    fi
    v=0
    [ "$t" = 0.5 ] && [ "$s" = 3 ] && v=1
    summary "$s" "${wait[$t, $s]}" $v >"$d/summary.json"
  done
done
"$fedmesh" sim aggregate "$S" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 1 ] && ok || bad "exit $rc with a missing run, wanted 1: $(cat "$work/err")"
grep -q 'missing: run 8 (p00001_federation.burst_threshold=0.8, seed 4)' "$work/err" && ok ||
  bad "the missing run is not named: $(cat "$work/err")"
grep -q '11 runs in 3 parameter sets: 10 completed, 1 missing, 1 with violations' "$work/out" && ok ||
  bad "the totals: $(cat "$work/out")"

# expected T VALUES...: "n mean sd half low high min max", computed here.
expected() {
  local t=$1
  shift
  printf '%s\n' "$@" | awk -v t="$t" '{ x[NR] = $1; s += $1 }
    END { n = NR; m = s / n; for (i = 1; i <= n; i++) q += (x[i] - m) ^ 2
      sd = sqrt(q / (n - 1)); h = t * sd / sqrt(n); min = x[1]; max = x[1]
      for (i = 1; i <= n; i++) { if (x[i] < min) min = x[i]; if (x[i] > max) max = x[i] }
      printf "%d %.6f %.6f %.6f %.6f %.6f %.6f %.6f\n", n, m, sd, h, m - h, m + h, min, max }'
}
# got TAG_PREFIX FIGURE: the same fields from sweep.csv.
got() {
  awk -F, -v p="$1" -v f="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    index($c["tag"], p) == 1 && $c["figure"] == f {
      printf "%d %.6f %.6f %.6f %.6f %.6f %.6f %.6f\n", $c["n"], $c["mean"], $c["sd"],
        $c["ci95_half"], $c["ci95_low"], $c["ci95_high"], $c["min"], $c["max"] }' "$S/sweep.csv"
}
# The table is given to 4 decimals (t = 2.7764): agree to 1e-3 relative.
close_enough() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    for (i = 1; i <= 8; i++) { d = x[i] - y[i]; if (d < 0) d = -d; s = y[i] < 0 ? -y[i] : y[i]
      if (d > 1e-3 * (s > 1 ? s : 1)) exit 1 } }'
}
want=$(expected 2.776445 100 120 90 130 110)
have=$(got p00000_ wait_s_p95)
close_enough "$have" "$want" && ok || bad "0.5 wait_s_p95: got '$have', want '$want'"
want=$(expected 3.182446 200 260 230 250)
have=$(got p00001_ wait_s_p95)
close_enough "$have" "$want" && ok || bad "0.8 wait_s_p95 (seed 4 missing): got '$have', want '$want'"
want=$(expected 2.776445 2 4 6 8 10)
have=$(got p00000_ jobs_burst)
close_enough "$have" "$want" && ok || bad "0.5 jobs_burst: got '$have', want '$want'"
# The missing run is not averaged: 999 is nowhere.
grep -q ',999' "$S/sweep.csv" && bad "the missing run's value was used" || ok
# One run: n 1, no spread (empty sd and interval).
row=$(grep '^p00002_[^,]*,0.9,wait_s_p95,' "$S/sweep.csv")
[ "$row" = "p00002_federation.burst_threshold=0.9,0.9,wait_s_p95,1,42,,,,,42,42,1,0,0" ] && ok ||
  bad "the one-run set: $row"
# The seed is the sweep's variable, not a figure; the parameter is a column.
grep -q ',seed,' "$S/sweep.csv" && bad "seed aggregated as a figure" || ok
head -1 "$S/sweep.csv" | grep -q '^tag,federation.burst_threshold,figure,n,mean,sd,ci95_half,ci95_low,ci95_high,min,max,runs,runs_missing,runs_with_violations$' &&
  ok || bad "CSV header: $(head -1 "$S/sweep.csv")"
# sweep.json: the same figures, the missing run with its exit code, the violation.
jq -e '.runs == 11 and .completed == 10 and .missing == 1 and .with_violations == 1' "$S/sweep.json" >/dev/null &&
  ok || bad "sweep.json totals: $(jq -c 'del(.groups)' "$S/sweep.json")"
jq -e '.groups[1].missing == [{"seed": 4, "exit_code": 3, "reason": "no summary.json (see run.log)"}]' \
  "$S/sweep.json" >/dev/null && ok || bad "sweep.json missing: $(jq -c '.groups[1].missing' "$S/sweep.json")"
jq -e '.groups[0].seeds_with_violations == [3] and .groups[0].params["federation.burst_threshold"] == "0.5"' \
  "$S/sweep.json" >/dev/null && ok || bad "sweep.json violations: $(jq -c '.groups[0] | del(.figures)' "$S/sweep.json")"
m=$(jq '.groups[0].figures.wait_s_p95.mean' "$S/sweep.json")
[ "$m" = 110 ] && ok || bad "sweep.json mean $m, wanted 110"
jq -e '.groups[2].figures.wait_s_p95.sd == null' "$S/sweep.json" >/dev/null && ok || bad "n = 1: sd is not null"
# sweep.html: the table, the missing run, the plot of wait_s_p95 (one numeric key).
grep -q '<strong>1 missing</strong> (seeds 4)' "$S/sweep.html" && ok || bad "sweep.html: the missing run"
grep -q '<th>wait_s_p95</th><td>5</td><td>110</td>' "$S/sweep.html" && ok || bad "sweep.html: the table"
if command -v gnuplot >/dev/null; then
  grep -q 'src="sweep-wait_s_p95.svg"' "$S/sweep.html" && [ -s "$S/sweep-wait_s_p95.svg" ] && ok ||
    bad "no plot of wait_s_p95 against the parameter"
fi

# All present and clean: exit 0.
rm -rf "$S/runs"/p00001_* && sed -i '/p00001_/d; s/^10\t/5\t/' "$S/runs.tsv"
rm -f "$S/runs"/p00000_*/seed-3/summary.json
summary 3 90 0 >"$(echo "$S"/runs/p00000_*/seed-3)/summary.json"
"$fedmesh" sim aggregate "$S" >"$work/out" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && ok || bad "all clean: exit $rc: $(cat "$work/err") $(head -3 "$S/runs.tsv")"

# Malformed runs.tsv: the line is named.
printf '0\tp0\t1\n2\tp0\t2\n' >"$S/runs.tsv"
"$fedmesh" sim aggregate "$S" >/dev/null 2>"$work/err"
rc=$?
[ $rc -eq 3 ] && grep -q 'runs.tsv:2:' "$work/err" && ok || bad "index gap: exit $rc: $(cat "$work/err")"
printf '0\t../x\t1\n' >"$S/runs.tsv"
"$fedmesh" sim aggregate "$S" >/dev/null 2>"$work/err"
[ $? -eq 3 ] && ok || bad "a tag with a path in it was accepted"
"$fedmesh" sim aggregate "$work/nothing" >/dev/null 2>"$work/err"
[ $? -eq 3 ] && grep -q 'sweep directory' "$work/err" && ok || bad "no runs.tsv: $(cat "$work/err")"
finish
