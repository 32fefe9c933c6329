#!/usr/bin/env bash
# sim.run_small: `fedmesh sim run` on tests/sim/scenarios/small.ini with
# --compare: the run completes with no invariant and no policy violated,
# replays exactly the jobs of each site's window (counted here from the
# trace with awk, by the rules of sim/trace.h and the scenario's windows
# and scales), bursts Paris's overflow to the others, and waits less at the
# 95th percentile than the same sites alone; its files hold what the
# summary says.
set -euo pipefail
fedmesh=${1:?usage: fed_run_test.sh FEDMESH SOURCE_DIR}
source_dir=${2:?usage: fed_run_test.sh FEDMESH SOURCE_DIR}
scenario=$source_dir/tests/sim/scenarios/small.ini
trace=$source_dir/data/workload-kth-sp2-1996-excerpt.swf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "sim.run_small: $*"; exit 1; }

"$fedmesh" sim run "$scenario" --compare --out "$work/run" --json > "$work/summary.json"
s=$work/summary.json
q() { jq -r "$1" "$s"; }

[ "$(q .invariant_violations)" = 0 ] || fail "invariant violations: $(q .invariant_violations)"
[ "$(q .policy_violations)" = 0 ] || fail "policy violations: $(q .policy_violations)"
[ "$(q .baseline.invariant_violations)" = 0 ] || fail "baseline invariant violations"
[ "$(q .mesh)" = true ] && [ "$(q .baseline.mesh)" = false ] || fail "mesh flags wrong"

# The jobs each window holds, by sim/trace.h's rules: processors are the
# allocated ones, else the requested ones, else the job is skipped; a run
# time of -1 is skipped. Paris replays [0, 2d) at scale 0.8, Frankfurt
# [2d, 4d) at 0.4 (sizes rounded up); none is wider than its site.
expected=$(grep -v '^;' "$trace" | awk '
  NF == 18 {
    if (t0 == "") t0 = $2
    p = ($5 > 0) ? $5 : (($8 > 0) ? $8 : 0)
    if (p == 0 || $4 == -1) next
    t = $2 - t0
    if (t < 172800) n++
    else if (t < 345600) n++
  }
  END { print n }')
[ "$(q .jobs_total)" = "$expected" ] || fail "jobs_total $(q .jobs_total), the trace's windows hold $expected"
[ "$(q .baseline.jobs_total)" = "$expected" ] || fail "baseline jobs_total differs"
[ "$(q '[.sites[].jobs] | add')" = "$expected" ] || fail "per-site jobs do not add up"
[ "$(q .jobs_skipped)" = 0 ] || fail "jobs skipped: $(q .jobs_skipped)"

[ "$(q .jobs_burst)" -gt 0 ] || fail "no job ran on borrowed capacity"
[ "$(q .leases_granted)" -gt 0 ] || fail "no lease granted"
[ "$(q .baseline.jobs_burst)" = 0 ] && [ "$(q .baseline.leases_granted)" = 0 ] ||
  fail "the baseline borrowed"
mesh_p95=$(q .wait_s_p95)
base_p95=$(q .baseline.wait_s_p95)
awk -v a="$mesh_p95" -v b="$base_p95" 'BEGIN { exit !(a < b) }' ||
  fail "wait_s_p95 with the mesh ($mesh_p95 s) is not below the baseline's ($base_p95 s)"
[ "$(q '.lent_vcpu_hours | length')" -gt 0 ] || fail "no lent vCPU-hours per pair"
[ "$(q '.burst_vcpu_hours_by_country | length')" -gt 0 ] || fail "no burst hours by country"
[ "$(q .gossip_bytes)" -gt 0 ] || fail "no gossip traffic"

# The files: 3 sites x 49 hourly samples (0 h to 48 h), a job line per job
# done in the window, and the baseline's files beside.
rows=$(($(wc -l < "$work/run/timeseries.csv") - 1))
[ "$rows" = 147 ] || fail "timeseries.csv has $rows rows, 147 expected"
done_jobs=$(($(wc -l < "$work/run/jobs.csv") - 1))
[ "$done_jobs" = "$(($(q .jobs_local) + $(q .jobs_burst)))" ] ||
  fail "jobs.csv has $done_jobs jobs, the summary $(q .jobs_local) + $(q .jobs_burst)"
burst_lines=$(awk -F, 'NR > 1 && $8 != "local"' "$work/run/jobs.csv" | wc -l)
[ "$burst_lines" = "$(q .jobs_burst)" ] || fail "jobs.csv has $burst_lines burst jobs"
for f in summary.json timeseries.csv jobs.csv baseline/summary.json baseline/timeseries.csv; do
  [ -s "$work/run/$f" ] || fail "$f missing"
done
[ "$(jq -r .digest "$work/run/summary.json")" = "$(q .digest)" ] || fail "summary.json differs"
echo "sim.run_small: ok: $expected jobs, $(q .jobs_burst) burst, wait p95 $mesh_p95 s vs $base_p95 s alone"
