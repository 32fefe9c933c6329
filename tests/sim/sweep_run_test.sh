#!/usr/bin/env bash
# sim.sweep_run: `fedmesh sim sweep` end to end (node/cli_sim_sweep.c).
#   usage     bad seeds, more than 100000 runs, an unknown --emit, a
#             directory that holds a sweep already: refused, nothing run.
#   failures  a scenario that cannot run: every run is started, fails,
#             and is reported and counted (exit_code and run.log per run;
#             sweep.json lists them; exit 1), never averaged.
#   slurm     --emit slurm runs nothing and writes runs.tsv and a job-array
#             script with --array=0-(R-1); the script itself, run with
#             SLURM_ARRAY_TASK_ID set as Slurm would, runs line i of
#             runs.tsv into runs/TAG/seed-S (no Slurm needed here; the
#             real array is integration.slurm_sweep).
#   real      tests/sim/scenarios/small.ini (until it exists, the six-site
#             example for 12 virtual hours): 2 values x 3 seeds, 2 at
#             once: every run completes, and sweep.csv's mean of
#             wait_s_p95 per value is the mean of the runs' summaries.
#
# usage: sweep_run_test.sh FEDMESH SOURCE_DIR
set -u
fedmesh=$(realpath "$1")
source_dir=$(realpath "$2")
# ok, bad, finish and test_begin (a scratch directory $dir, removed at exit).
. "$(cd "$(dirname "$0")" && pwd)/../integration/lib.sh"
test_begin sim_sweep
work=$dir
cd "$work" || exit 1
echo 'this is not a scenario' >bad.ini

# --- usage ---------------------------------------------------------------------
expect_exit() { # CODE WHAT COMMAND...
  local want=$1 what=$2
  shift 2
  "$@" >out 2>err
  local rc=$?
  [ $rc -eq "$want" ] && ok || bad "$what: exit $rc, wanted $want: $(head -c 300 err)"
}
expect_exit 2 "--seeds 5..1" "$fedmesh" sim sweep bad.ini --seeds 5..1 --out u1
expect_exit 2 "no --seeds" "$fedmesh" sim sweep bad.ini --out u1
expect_exit 2 "200000 runs" "$fedmesh" sim sweep bad.ini --seeds 1..100000 --set a=1,2 --out u1
grep -q 'at most 100000' err && ok || bad "too many runs: why: $(cat err)"
expect_exit 2 "--emit pbs" "$fedmesh" sim sweep bad.ini --seeds 1..2 --emit pbs --out u1
expect_exit 2 "an empty value" "$fedmesh" sim sweep bad.ini --seeds 1..2 --set a=1,,2 --out u1
[ -e u1/runs.tsv ] && bad "a refused sweep wrote runs.tsv" || ok

# --- failures ------------------------------------------------------------------
expect_exit 1 "a sweep whose runs all fail" "$fedmesh" sim sweep bad.ini --seeds 1..3 --set a=x,y --jobs 2 --out f
[ "$(grep -vc '^#' f/runs.tsv)" -eq 6 ] && ok || bad "runs.tsv: $(cat f/runs.tsv)"
codes=$(cat f/runs/*/seed-*/exit_code 2>/dev/null | sort -u | tr '\n' ' ')
[ "$(ls f/runs/*/seed-*/exit_code 2>/dev/null | wc -l)" -eq 6 ] && [[ $codes != *"0 "* ]] && ok ||
  bad "every run should have failed with its exit code: $codes"
[ "$(ls f/runs/*/seed-*/run.log | wc -l)" -eq 6 ] && ok || bad "a run.log per run"
grep -q '6 failed' err && ok || bad "the sweep does not count the failures: $(cat err)"
jq -e '.runs == 6 and .missing == 6 and .completed == 0' f/sweep.json >/dev/null && ok ||
  bad "sweep.json: $(jq -c 'del(.groups)' f/sweep.json)"
grep -q '<strong>6 missing</strong>' f/sweep.html && ok || bad "sweep.html does not say 6 missing"
ls -d f/runs/p00000_a=x f/runs/p00001_a=y >/dev/null 2>&1 && ok || bad "tags: $(ls f/runs)"
expect_exit 4 "the same --out again" "$fedmesh" sim sweep bad.ini --seeds 1..3 --out f

# --- --emit slurm --------------------------------------------------------------
expect_exit 0 "--emit slurm" "$fedmesh" sim sweep bad.ini --seeds 7..8 --set a=1,2,3 --out s --emit slurm
[ -d s/runs ] && bad "--emit slurm ran something" || ok
grep -q '^#SBATCH --array=0-5$' s/sweep.sbatch && ok || bad "the array: $(grep SBATCH s/sweep.sbatch)"
grep -q "sbatch $work/s/sweep.sbatch" out && grep -q "fedmesh sim aggregate $work/s" out && ok ||
  bad "--emit slurm does not say how to submit and aggregate: $(cat out)"
bash -n s/sweep.sbatch && ok || bad "sweep.sbatch is not valid bash"
# Task 4 is line 4: a=3 (the third value), seed 7.
SLURM_ARRAY_TASK_ID=4 bash s/sweep.sbatch
rc=$?
[ $rc -ne 0 ] && ok || bad "task 4 of a bad scenario exited 0"
[ -f s/runs/p00002_a=3/seed-7/exit_code ] && [ "$(cat s/runs/p00002_a=3/seed-7/exit_code)" = $rc ] && ok ||
  bad "task 4 did not run into runs/p00002_a=3/seed-7: $(find s/runs)"
grep -q 'bad.ini' s/runs/p00002_a=3/seed-7/run.log && ok || bad "task 4's log: $(cat s/runs/p00002_a=3/seed-7/run.log)"
SLURM_ARRAY_TASK_ID=1 FEDMESH_SWEEP_OFFSET=4 bash s/sweep.sbatch
[ -f s/runs/p00002_a=3/seed-8/exit_code ] && ok || bad "the offset: task 1 + 4 is not line 5"
SLURM_ARRAY_TASK_ID=9 bash s/sweep.sbatch 2>err
[ $? -eq 2 ] && grep -q 'no run 9' err && ok || bad "a task past the end: $(cat err)"
expect_exit 1 "aggregate of a partial array" "$fedmesh" sim aggregate s
grep -q '6 runs in 3 parameter sets: 0 completed, 6 missing' out && ok || bad "partial: $(cat out)"
grep -q 'not run (yet)' err && ok || bad "the runs never started are not named: $(cat err)"

# --- a real sweep ----------------------------------------------------------------
# tests/sim/scenarios/small.ini; until it exists, the six-site example cut
# to 12 virtual hours (one more --set key, with one value).
scenario=$source_dir/tests/sim/scenarios/small.ini
short=()
if [ ! -f "$scenario" ]; then
  scenario=$source_dir/scenarios/europe-6.ini
  short=(--set federation.duration=12h)
  printf '\n*** NOTE: no tests/sim/scenarios/small.ini: sweeping %s for 12 h instead ***\n\n' "$scenario"
fi
key=${FEDMESH_SWEEP_KEY:-federation.burst_threshold}
expect_exit 0 "sweep of $(basename "$scenario")" "$fedmesh" sim sweep "$scenario" --seeds 1..3 \
  "${short[@]}" --set "$key=2,4" --jobs 2 --out r
[ "$(ls r/runs/*/seed-*/summary.json 2>/dev/null | wc -l)" -eq 6 ] && ok || bad "6 summaries: $(ls r/runs/*/*)"
# column NAME TAG FIGURE: that column of sweep.csv's row.
column() {
  awk -F, -v name="$1" -v t="$2" -v f="$3" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $1 == t && $c["figure"] == f { print $c[name] }' r/sweep.csv
}
for tag in $(ls r/runs); do
  want=$(jq -s 'map(.wait_s_p95) | add / length' r/runs/"$tag"/seed-*/summary.json)
  have=$(column mean "$tag" wait_s_p95)
  n=$(column n "$tag" wait_s_p95)
  awk -v a="$have" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-6 * (b > 1 ? b : 1)) }' &&
    [ "$n" = 3 ] && ok || bad "$tag: wait_s_p95 mean $have (n $n), the summaries say $want (n 3)"
done
[ "$(ls r/runs | wc -l)" -eq 2 ] && ok || bad "2 parameter sets: $(ls r/runs)"
finish
