#!/usr/bin/env bash
# sim.leases_seedN: one seed of the lease scenario with every fault on: 8
# members and 2 hostile ones, 2 % loss, 3 crash/restart pairs, 30 virtual
# minutes of workload and the drain. The run must end with no invariant
# broken (exit 0, invariant_violations 0), leases must have been made and
# settled, and the hostile members' frames must have been refused.
set -u
fedmesh=${1:?usage: leases_scenario_test.sh FEDMESH SEED}
seed=${2:?usage: leases_scenario_test.sh FEDMESH SEED}
out=$("$fedmesh" sim leases --nodes 8 --seed "$seed" --loss 0.02 --crash 3 --hostile 2 --json \
  --no-wall)
rc=$?
passed=0
failed=0
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $2"; fi; }
field() { echo "$out" | grep -oE "\"$1\":[^,}]*" | head -1 | cut -d: -f2; }
check '[ "$rc" -eq 0 ]' "exit code $rc"
check '[ "$(field invariant_violations)" = 0 ]' "invariant_violations is $(field invariant_violations)"
check '[ "$(field leases_granted)" -gt 20 ]' "leases granted: $(field leases_granted)"
check '[ "$(field leases_settled)" -gt 20 ]' "leases settled: $(field leases_settled)"
check '[ "$(field crashes)" = 3 ]' "crashes: $(field crashes)"
check '[ "$(field reconciled_pairs)" = 28 ]' "reconciled pairs: $(field reconciled_pairs)"
check '[ "$(field burst_borrows)" -gt 0 ]' "burst borrows: $(field burst_borrows)"
for reason in bad_signature replay overcharge; do
  check '[ "$(field "$reason")" -gt 0 ]' "no frame refused as $reason"
done
printf 'sim.leases_seed%s: %d passed, %d failed\n' "$seed" "$passed" "$failed"
[ "$failed" -eq 0 ] || { echo "$out"; exit 1; }
