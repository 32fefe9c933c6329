#!/usr/bin/env bash
# sim.leases_determinism: one seed of the lease scenario, run twice, prints
# the same bytes (the digest covers every frame's fate and every ledger
# write); another seed prints another digest; with the wall clock, wall_s
# is the last key and nothing before it changes. Exit code 1 (a run that
# found violations) is a result like any other here: it must replay too.
set -euo pipefail
fedmesh=${1:?usage: leases_determinism_test.sh FEDMESH}
args=(sim leases --nodes 6 --minutes 15 --loss 0.03 --crash 2 --hostile 2 --json)
run() { "$fedmesh" "${args[@]}" "$@" 2>/dev/null || [ $? -eq 1 ]; }
a=$(run --seed 11 --no-wall)
b=$(run --seed 11 --no-wall)
if [ "$a" != "$b" ]; then
  echo "sim.leases_determinism: two runs of seed 11 differ:"
  diff <(echo "$a" | tr ',' '\n') <(echo "$b" | tr ',' '\n') || true
  exit 1
fi
c=$(run --seed 12 --no-wall)
digest() { echo "$1" | grep -o '"digest":"[0-9a-f]*"'; }
[ -n "$(digest "$a")" ] || { echo "sim.leases_determinism: no digest in: $a"; exit 1; }
if [ "$(digest "$a")" = "$(digest "$c")" ]; then
  echo "sim.leases_determinism: seeds 11 and 12 gave the same digest"
  exit 1
fi
d=$(run --seed 11)
case "$d" in
  *'"wall_s":'*'}') ;;
  *) echo "sim.leases_determinism: wall_s is not the last key: $d"; exit 1 ;;
esac
if [ "${d%%,\"wall_s\"*}" != "${a%\}}" ]; then
  echo "sim.leases_determinism: the run with wall_s differs before it"
  exit 1
fi
echo "sim.leases_determinism: ok $(digest "$a")"
