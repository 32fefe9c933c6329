#!/usr/bin/env bash
# sim.run_faults: the [faults] of a scenario happen, and the federation
# keeps its invariants through them: a member crashed mid-lease and
# restarted on what its ledger kept, a country cut from the rest for an
# hour, 2 % message loss.
set -euo pipefail
fedmesh=${1:?usage: fed_faults_test.sh FEDMESH SOURCE_DIR}
scenario=${2:?}/tests/sim/scenarios/small.ini
out=$("$fedmesh" sim run "$scenario" --seed 5 --json \
  --set 'faults.crash=paris@20h+10m; frankfurt@30h+2m' \
  --set faults.partition=DE@10h+1h --set faults.loss=0.02)
q() { jq -r "$1" <<<"$out"; }
fail() { echo "sim.run_faults: $*"; exit 1; }
[ "$(q .invariant_violations)" = 0 ] && [ "$(q .policy_violations)" = 0 ] ||
  fail "violations: $(q .invariant_violations) invariant, $(q .policy_violations) policy"
[ "$(q .crashes)" = 2 ] || fail "crashes $(q .crashes), 2 scheduled"
[ "$(q .messages_cut)" -gt 0 ] || fail "the partition cut no message"
[ "$(q .messages_lost)" -gt 0 ] || fail "no message lost at 2 %"
[ "$(q .jobs_burst)" -gt 0 ] || fail "no burst"
# Without faults the same seed cuts and loses nothing.
clean=$("$fedmesh" sim run "$scenario" --seed 5 --json)
[ "$(jq -r '.messages_cut + .messages_lost + .crashes' <<<"$clean")" = 0 ] ||
  fail "a run without faults lost, cut or crashed something"
echo "sim.run_faults: ok: $(q .messages_cut) cut, $(q .messages_lost) lost, $(q .crashes) crashes"
