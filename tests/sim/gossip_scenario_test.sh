#!/usr/bin/env bash
# sim.gossip_seedN: 50 nodes, 1 % loss, 2 crashes, a 60 s partition. The
# join converges, node 0's advert reaches everyone within 12 rounds, both
# crashes are detected, the partition heals, and no healthy node is ever
# declared down outside the partition.
set -euo pipefail
fedmesh=${1:?usage: gossip_scenario_test.sh FEDMESH SEED}
seed=${2:?usage: gossip_scenario_test.sh FEDMESH SEED}
cmd=(sim gossip --nodes 50 --seed "$seed" --loss 0.01 --crash 2 --partition-s 60 --json --no-wall)
out=$("$fedmesh" "${cmd[@]}")
field() { # the raw JSON value of a top-level key
  printf '%s' "$out" | grep -o "\"$1\":[^,}]*" | head -n 1 | cut -d: -f2
}
fail=0
check() { # check WHAT CONDITION
  if ! eval "$2"; then
    echo "sim.gossip_seed$seed: $1 (fedmesh ${cmd[*]})"
    fail=1
  fi
}
check "did not converge" '[ "$(field converged)" = true ]'
r=$(field rounds_to_all)
check "advert did not reach every node" '[ "$r" != null ]'
check "rounds_to_all $r > 12" '[ "$r" = null ] || [ "$r" -le 12 ]'
check "false_down $(field false_down) != 0" '[ "$(field false_down)" = 0 ]'
check "crashes not detected" '[ "$(field detect_s)" != null ]'
check "partition did not heal" '[ "$(field heal_rounds)" != null ]'
check "outbox overflowed" '[ "$(field outbox_full)" = 0 ]'
check "machine calls failed" '[ "$(field call_errors)" = 0 ]'
if [ $fail -ne 0 ]; then
  echo "$out"
  exit 1
fi
echo "sim.gossip_seed$seed: ok converged_s=$(field converged_s) rounds_to_all=$r detect_s=$(field detect_s) heal_rounds=$(field heal_rounds)"
