#!/usr/bin/env bash
# sim.leases_checker: the invariant checker catches a violation. With
# --inject-violation the simulator writes, mid-run, one validly signed
# OPENED record into an honest lender's ledger, bypassing the lease
# machine: it breaks its constraints (a country its lender is not in) and
# its lender's capacity (lendable + 1 vCPUs), and the borrower's ledger
# never gets it. The run must fail (exit 1) and count it under (a), (b),
# (c) and (e), and say which seed replays it.
set -u
fedmesh=${1:?usage: leases_checker_test.sh FEDMESH}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$fedmesh" sim leases --nodes 4 --minutes 6 --seed 3 --inject-violation --json --no-wall \
  2>"$err")
rc=$?
passed=0
failed=0
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $2"; fi; }
count() { echo "$out" | grep -oE "\"invariants\":\{[^}]*\}" | grep -oE "\"$1\":[0-9]+" | cut -d: -f2; }
field() { echo "$out" | grep -oE "\"$1\":[^,}]*" | head -1 | cut -d: -f2; }
check '[ "$rc" -eq 1 ]' "exit code $rc, not 1"
check '[ "$(field invariant_violations)" -gt 0 ]' "no violation counted"
for invariant in constraints capacity agree end; do
  check '[ "$(count "$invariant")" -gt 0 ]' "no $invariant violation counted"
done
check 'grep -q "seed 3" "$err"' "stderr names no seed: $(head -3 "$err")"
check 'grep -q "certified country is not allowed" "$err"' "(a) not described"
# Without the injection, the same run is clean.
clean=$("$fedmesh" sim leases --nodes 4 --minutes 6 --seed 3 --json --no-wall)
check '[ $? -eq 0 ]' "the same run without the injection failed"
check 'echo "$clean" | grep -q "\"invariant_violations\":0,"' "the clean run counts violations"
printf 'sim.leases_checker: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ] || { echo "$out"; cat "$err"; exit 1; }
