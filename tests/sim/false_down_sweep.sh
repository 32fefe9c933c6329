#!/usr/bin/env bash
# tests/sim/false_down_sweep.sh: no healthy member declared down, over many
# seeds: the gossip scenario at N nodes and a loss rate, once per seed, and
# a failure when any run counts a false down (or does not converge).
#
#   tests/sim/false_down_sweep.sh NODES LOSS SEED_FIRST SEED_LAST
#
# Runs `fedmesh sim gossip --nodes NODES --loss LOSS --seed S --idle-s IDLE
# --json` for every seed S, two at a time ($SWEEP_JOBS, default 2). IDLE is
# $SWEEP_IDLE_S, default 30: the steady state in which false suspicions
# happen (about one a minute per 100 members at 1 % loss) and must be
# refuted; 30 s is more than three times the longest suspicion at N = 1,000
# (9 s), and the advert phase and the 10 s tail run after it. Joining costs
# most of a run (N = 1,000: about 20 s of CPU), so a shorter window saves
# little. The binary is $FEDMESH, else build/fedmesh under the repository.
# Each seed's JSON goes to $SWEEP_DIR (default: a new directory under /tmp).
# Prints one line per seed (false_down, why, suspicions, refutations, wall
# time) and the totals; exits 1 when a run failed, converged not, or
# counted a false down. A failing seed replays exactly with its command.
#
# In ctest: sim.false_down_sweep (N = 200, seeds 1..10, 1 % and 5 % loss)
# runs in the default suite; sim.false_down_sweep_long (N = 1,000, seeds
# 1..100, both losses, hours of CPU) only with FEDMESH_LONG_SWEEP=1, and
# skips otherwise.
set -u
if [ $# -ne 4 ]; then
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
nodes=$1 loss=$2 first=$3 last=$4
[[ "$nodes" =~ ^[0-9]+$ && "$first" =~ ^[0-9]+$ && "$last" =~ ^[0-9]+$ && "$first" -le "$last" ]] ||
  { echo "$0: NODES, SEED_FIRST and SEED_LAST are integers, first <= last" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
fedmesh=${FEDMESH:-$root/build/fedmesh}
[ -x "$fedmesh" ] || { echo "$0: no fedmesh at $fedmesh (set FEDMESH)" >&2; exit 2; }
dir=${SWEEP_DIR:-}
[ -n "$dir" ] || dir=$(mktemp -d /tmp/false-down-sweep.XXXXXX)
mkdir -p "$dir"
idle=${SWEEP_IDLE_S:-30}
jobs=${SWEEP_JOBS:-2}
export fedmesh dir nodes loss idle
run_seed() {
  "$fedmesh" sim gossip --nodes "$nodes" --loss "$loss" --seed "$1" --idle-s "$idle" --json \
    >"$dir/$nodes-$loss-$1.json" 2>"$dir/$nodes-$loss-$1.err"
  echo "$?" >"$dir/$nodes-$loss-$1.rc"
}
export -f run_seed
seq "$first" "$last" | xargs -P "$jobs" -I{} bash -c 'run_seed {}'
python3 - "$dir" "$nodes" "$loss" "$first" "$last" "$idle" <<'PY'
import json, os, sys
directory, nodes, loss, first, last, idle = sys.argv[1:7]
bad, total_false, suspicions, walls = [], 0, 0, []
for seed in range(int(first), int(last) + 1):
    stem = os.path.join(directory, f"{nodes}-{loss}-{seed}")
    rc = open(stem + ".rc").read().strip()
    command = f"fedmesh sim gossip --nodes {nodes} --loss {loss} --seed {seed} --idle-s {idle} --json"
    try:
        result = json.load(open(stem + ".json"))
    except (OSError, ValueError):
        bad.append(seed)
        print(f"seed {seed}: exit {rc}, no JSON ({command})")
        continue
    why = result.get("false_down_why", {})
    stats = result["gossip"]
    total_false += result["false_down"]
    suspicions += stats["suspicions_raised"]
    walls.append(result.get("wall_s", 0.0))
    ok = rc == "0" and result["converged"] and result["false_down"] == 0
    print(f"seed {seed}: false_down {result['false_down']} why {why} "
          f"suspicions {stats['suspicions_raised']} refutations {stats['refutations']} "
          f"answers {stats.get('refutation_answers')} wall {result.get('wall_s')} s"
          + ("" if ok else f"  FAIL ({command})"))
    if not ok:
        bad.append(seed)
runs = int(last) - int(first) + 1
walls.sort()
median = walls[len(walls) // 2] if walls else 0
print(f"N={nodes} loss={loss} seeds {first}..{last}: {runs} runs, {len(bad)} failed, "
      f"false_down total {total_false}, suspicions raised {suspicions}, "
      f"median wall {median:.1f} s; JSON in {directory}")
sys.exit(1 if bad else 0)
PY
