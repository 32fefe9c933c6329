#!/usr/bin/env bash
# sim.hostile: three members of a simulated federation (N=50, 1 % loss, two
# crashes, a 30 s partition) also send, every probe interval, a frame the
# protocol must refuse: a forged signature, a replayed sequence, a timestamp
# from the future, an advert naming another member, an unadmitted key, a
# certificate from another root, random bytes. Checks that every kind was
# refused under its reason and that the federation did not notice: it
# converged, detected the crashes, healed, and declared no healthy member
# down.
set -u
fedmesh=${1:?usage: hostile_test.sh PATH_TO_FEDMESH}
out=$("$fedmesh" sim gossip --nodes 50 --seed 7 --loss 0.01 --hostile 3 --crash 2 \
  --partition-s 30 --idle-s 10 --json --no-wall) || { echo "sim failed"; exit 1; }
passed=0
failed=0
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $2"; fi; }
field() { echo "$out" | grep -oE "\"$1\":[^,}]*" | head -1 | cut -d: -f2; }
check '[ "$(field converged)" = true ]' "converged"
check '[ "$(field false_down)" = 0 ]' "false_down is $(field false_down)"
check '[ "$(field detect_s)" != null ]' "crashes detected"
check '[ "$(field heal_rounds)" != null ]' "partition healed"
check '[ "$(field attacks)" -gt 50 ]' "attacks sent: $(field attacks)"
for reason in malformed bad_signature unknown_key replay future_timestamp cert_invalid mismatch; do
  check '[ "$(field "$reason")" -gt 0 ]' "no refusal counted as $reason"
done
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ] || { echo "$out"; exit 1; }
