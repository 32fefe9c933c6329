#!/usr/bin/env bash
# tests/sim/leases_sweep.sh: the lease scenario over many seeds, for what a
# handful of seeds in the default suite cannot find. Not part of ctest.
#
#   tests/sim/leases_sweep.sh [-j JOBS] [-o DIR] FIRST..LAST [fedmesh sim leases options]
#
# Runs `fedmesh sim leases --seed S --json` for every seed S from FIRST to
# LAST, JOBS at a time (default: the number of CPUs), with the options given
# after the seeds, or by default the suite's (--nodes 8 --loss 0.02 --crash 3
# --hostile 2). The binary is $FEDMESH, else build/fedmesh under the
# repository, else fedmesh on the PATH. Each seed's JSON and stderr go to DIR
# (default: a new directory under /tmp, printed at the end). Prints one line
# per seed that failed (exit code, violations by invariant, the first one
# described), then the totals; exits 1 when any seed failed. Every failing
# seed replays exactly: the same command with --seed S.
set -u
jobs=$(nproc 2>/dev/null || echo 2)
dir=""
while getopts "j:o:h" option; do
  case $option in
    j) jobs=$OPTARG ;;
    o) dir=$OPTARG ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
range=${1:-}
case "$range" in
  *..*) first=${range%..*}; last=${range#*..} ;;
  *) echo "usage: $0 [-j JOBS] [-o DIR] FIRST..LAST [options]"; exit 2 ;;
esac
[[ "$first" =~ ^[0-9]+$ && "$last" =~ ^[0-9]+$ && "$first" -le "$last" ]] ||
  { echo "$0: seeds as FIRST..LAST, e.g. 1..1000"; exit 2; }
shift
options=("$@")
[ ${#options[@]} -gt 0 ] || options=(--nodes 8 --loss 0.02 --crash 3 --hostile 2)
root=$(cd "$(dirname "$0")/../.." && pwd)
fedmesh=${FEDMESH:-}
[ -n "$fedmesh" ] || { [ -x "$root/build/fedmesh" ] && fedmesh=$root/build/fedmesh; }
[ -n "$fedmesh" ] || fedmesh=$(command -v fedmesh) || { echo "$0: set FEDMESH"; exit 2; }
[ -n "$dir" ] || dir=$(mktemp -d /tmp/leases-sweep.XXXXXX)
mkdir -p "$dir"
export fedmesh dir
run_seed() {
  local seed=$1; shift
  "$fedmesh" sim leases --seed "$seed" "$@" --json >"$dir/$seed.json" 2>"$dir/$seed.err"
  echo "$seed $?" >"$dir/$seed.rc"
}
export -f run_seed
started=$(date +%s)
seq "$first" "$last" | xargs -P "$jobs" -I{} bash -c 'run_seed "$@"' _ {} "${options[@]}"
elapsed=$(( $(date +%s) - started ))
python3 - "$dir" "$first" "$last" "$elapsed" "${options[*]}" <<'PY'
import json, os, sys
directory, first, last, elapsed, options = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
failed, by_invariant, walls, stuck, policy = [], {}, [], 0, 0
for seed in range(first, last + 1):
    rc = int(open(os.path.join(directory, f"{seed}.rc")).read().split()[1])
    try:
        result = json.load(open(os.path.join(directory, f"{seed}.json")))
    except ValueError:
        result = None
    if result is not None:
        walls.append(result.get("wall_s", 0.0))
        stuck += 1 if result.get("stuck_deadlines", 0) > 0 else 0
        policy += result.get("policy_violations", 0)
        for name, count in result["invariants"].items():
            if count:
                by_invariant[name] = by_invariant.get(name, 0) + 1
    if rc != 0 or result is None or result["invariant_violations"] != 0:
        counts = "" if result is None else " ".join(f"{k}={v}" for k, v in result["invariants"].items() if v)
        first_line = (open(os.path.join(directory, f"{seed}.err")).readline().strip() or "(no stderr)")
        failed.append(seed)
        print(f"seed {seed}: exit {rc} {counts} | {first_line}")
runs = last - first + 1
print(f"leases sweep: seeds {first}..{last} ({runs} runs) with: {options}")
print(f"  clean {runs - len(failed)}, with violations {len(failed)}"
      + (f" (seeds {' '.join(map(str, failed[:40]))}{' ...' if len(failed) > 40 else ''})" if failed else ""))
if by_invariant:
    print("  seeds by invariant broken: " + ", ".join(f"{k} {v}" for k, v in sorted(by_invariant.items())))
print(f"  policy violations {policy}; seeds with a stuck member deadline {stuck}")
if walls:
    print(f"  wall per run: mean {sum(walls) / len(walls):.2f} s, max {max(walls):.2f} s; sweep {elapsed} s")
print(f"  results in {directory}")
sys.exit(1 if failed else 0)
PY
