#!/usr/bin/env bash
# sim.determinism: one seed, run twice, prints the same bytes (digest of
# every message included); another seed prints another digest.
set -euo pipefail
fedmesh=${1:?usage: determinism_test.sh FEDMESH}
args=(sim gossip --nodes 30 --seed 7 --loss 0.02 --crash 1 --partition-s 20 --json --no-wall)
a=$("$fedmesh" "${args[@]}")
b=$("$fedmesh" "${args[@]}")
if [ "$a" != "$b" ]; then
  echo "sim.determinism: two runs of seed 7 differ:"
  diff <(echo "$a" | tr ',' '\n') <(echo "$b" | tr ',' '\n') || true
  exit 1
fi
c=$("$fedmesh" sim gossip --nodes 30 --seed 8 --loss 0.02 --crash 1 --partition-s 20 --json --no-wall)
digest() { echo "$1" | grep -o '"digest":"[0-9a-f]*"'; }
[ -n "$(digest "$a")" ] || { echo "sim.determinism: no digest in: $a"; exit 1; }
if [ "$(digest "$a")" = "$(digest "$c")" ]; then
  echo "sim.determinism: seeds 7 and 8 gave the same digest"
  exit 1
fi
# With the wall clock, wall_s is the last key and the rest is unchanged.
d=$("$fedmesh" sim gossip --nodes 30 --seed 7 --loss 0.02 --crash 1 --partition-s 20 --json)
case "$d" in
  *'"wall_s":'*'}') ;;
  *) echo "sim.determinism: wall_s is not the last key: $d"; exit 1 ;;
esac
if [ "${d%%,\"memory_per_node_mib\"*}" != "${a%\}}" ]; then
  echo "sim.determinism: the run with wall_s differs before it"
  exit 1
fi
echo "sim.determinism: ok $(digest "$a")"
