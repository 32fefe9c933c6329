#!/usr/bin/env bash
# integration.slurm_sweep: `fedmesh sim sweep --emit slurm` on a real
# single-host Slurm 22.05 (the cluster of integration.slurm, started by
# slurm_cluster.sh): a 4-task job array (2 values x 2 seeds of
# tests/sim/scenarios/small.ini), each task one `fedmesh sim run`, then
# `fedmesh sim aggregate` over what the array wrote: 4 summaries, n = 2
# per parameter set, exit 0. Then one run's summary is removed and the
# aggregate must name it missing and exit 1.
#
# Until small.ini exists, scenarios/europe-6.ini for 12 virtual hours. With
# FEDMESH_SWEEP_BROKEN=1 the array runs a scenario that cannot run: the 4
# tasks must fail with their exit codes recorded and the aggregate must
# list 4 missing runs.
#
# Installs what is missing (slurmctld slurmd slurm-client munge jq). If
# Slurm cannot be installed or started here, it says why, loudly, and exits
# 77 (ctest: skipped). Needs root. Every wait is bounded; the cluster is
# stopped and its temp dir removed (trap).
set -u
here=$(cd "$(dirname "$0")" && pwd)
fedmesh=$(realpath "$1")
. "$here/lib.sh"
started_s=$SECONDS
broken=${FEDMESH_SWEEP_BROKEN:-0}
key=${FEDMESH_SWEEP_KEY:-federation.burst_threshold}

skip() {
  printf '\n*** SKIPPED integration.slurm_sweep: %s ***\n\n' "$*"
  exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root: the private cluster's daemons run as root"
[ -d /sys/fs/cgroup ] || skip "slurmd 22.05 needs /sys/fs/cgroup mounted, and it is not"
missing=()
for tool in slurmctld slurmd sbatch munged jq; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages for: ${missing[*]}"
  apt_log=$(mktemp /tmp/slurm_sweep_test.apt.XXXXXX) || exit 1
  if ! { timeout 240 env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    timeout 240 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurmctld slurmd slurm-client munge jq; } >"$apt_log" 2>&1; then
    tail -n 5 "$apt_log"
    rm -f "$apt_log"
    skip "apt-get install slurmctld slurmd slurm-client munge jq failed (offline?)"
  fi
  rm -f "$apt_log"
fi
for v in $(compgen -e); do
  case $v in SLURM_* | SBATCH_* | SQUEUE_* | SINFO_* | SCONTROL_* | SCANCEL_* | FEDMESH_*) unset "$v" ;; esac
done

test_begin slurm_sweep
D=$(mktemp -d /tmp/fedmesh-slurm.XXXXXX) || exit 1
supervisor=''
pidns=0
. "$here/slurm_cluster.sh"
cleanup() {
  slurm_stop
  test_cleanup
  rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

free_ports 2 $((19000 + ($$ * 7) % 20000)) || { bad "found only ${#ports[@]} free ports"; finish; }
slurm_cluster_start || skip "Slurm did not start here (no idle node within 30 s; logs above)"
echo "slurm up in $((SECONDS - started_s)) s (pid namespace: $pidns)"

scenario=$here/../sim/scenarios/small.ini
short=()
if [ ! -f "$scenario" ]; then
  scenario=$here/../../scenarios/europe-6.ini
  short=(--set federation.duration=12h)
  printf '\n*** NOTE: no tests/sim/scenarios/small.ini: sweeping %s for 12 h instead ***\n\n' "$scenario"
fi
real=1
if [ "$broken" = 1 ]; then
  real=0 # the array of runs that fail: exit codes recorded, all missing
  scenario=$dir/bad.ini
  echo 'not a scenario' >"$scenario"
fi
scenario=$(realpath "$scenario")
sweep=$dir/sweep
expect 0 "--emit slurm" -- "$fedmesh" sim sweep "$scenario" --seeds 1..2 "${short[@]}" --set "$key=2,4" \
  --out "$sweep" --emit slurm
grep -q '^#SBATCH --array=0-3$' "$sweep/sweep.sbatch" && ok || bad "not a 4-task array"

job=$(timeout 10 sbatch --parsable "$sweep/sweep.sbatch" 2>"$dir/sbatch.err" | cut -d';' -f1)
[ -n "$job" ] && ok || { bad "sbatch: $(cat "$dir/sbatch.err")"; finish; }
echo "submitted array job $job"
array_done() { [ -z "$(timeout 10 squeue -h -j "$job" -o %i 2>/dev/null)" ]; }
wait_for 300 array_done && ok || bad "the array was not done in 300 s: $(squeue -h -j "$job" 2>&1)"
states=$(timeout 10 scontrol -o show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sort | uniq -c |
  tr -s ' ' | tr '\n' ';')
echo "task states: $states"
tasks_run=$(ls "$sweep"/runs/*/seed-*/exit_code 2>/dev/null | wc -l)
[ "$tasks_run" -eq 4 ] && ok || bad "$tasks_run of 4 tasks recorded an exit code: $(ls -R "$sweep/runs" "$sweep/slurm" 2>&1 | head -20)"

"$fedmesh" sim aggregate "$sweep" >"$dir/out" 2>"$dir/err"
rc=$?
if [ $real -eq 1 ]; then
  [ $rc -eq 0 ] && ok || bad "aggregate: exit $rc: $(cat "$dir/err")"
  [[ $states == *"4 JobState=COMPLETED"* ]] && ok || bad "not every task COMPLETED: $states"
  grep -q '4 runs in 2 parameter sets: 4 completed, 0 missing, 0 with violations' "$dir/out" && ok ||
    bad "aggregate: $(cat "$dir/out")"
  n=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["figure"] == "wait_s_p95" { print $c["n"] }' "$sweep/sweep.csv" | tr '\n' ' ')
  [ "$n" = "2 2 " ] && ok || bad "wait_s_p95 n per set: '$n', wanted 2 2"
  # One summary gone: the aggregate names it and fails.
  rm -f "$sweep"/runs/p00001_*/seed-2/summary.json
  "$fedmesh" sim aggregate "$sweep" >"$dir/out" 2>"$dir/err"
  rc=$?
  [ $rc -eq 1 ] && grep -q 'missing: run 3 (p00001_' "$dir/err" && ok || bad "a lost summary: exit $rc: $(cat "$dir/err")"
else
  [ $rc -eq 1 ] && ok || bad "aggregate of failed tasks: exit $rc"
  jq -e '.missing == 4 and ([.groups[].missing[].exit_code] | all(. != null and . != 0))' \
    "$sweep/sweep.json" >/dev/null && ok || bad "the failed tasks: $(jq -c '[.groups[].missing]' "$sweep/sweep.json")"
fi
echo "slurm sweep test: $((SECONDS - started_s)) s"
finish
