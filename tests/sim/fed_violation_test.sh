#!/usr/bin/env bash
# sim.run_violation: a run whose checker finds a violation stops at the
# first event after which it stands, exits 1 and prints the seed, the
# virtual time, that event and what broke; the printed command, run again,
# stops at the same place with the same words.
set -euo pipefail
fedmesh=${1:?usage: fed_violation_test.sh FEDMESH SOURCE_DIR}
scenario=${2:?}/tests/sim/scenarios/small.ini
run() {
  set +e
  "$fedmesh" sim run "$scenario" --seed 3 --inject-violation --json > /dev/null 2> "$1"
  rc=$?
  set -e
  [ "$rc" = 1 ] || { echo "sim.run_violation: exit $rc, 1 expected:"; cat "$1"; exit 1; }
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run "$work/a"
grep -q "stopped at virtual time .* (seed 3) after the event 'inject of member 0'" "$work/a" ||
  { echo "sim.run_violation: no stop line:"; cat "$work/a"; exit 1; }
grep -q "invariant constraints broken" "$work/a" && grep -q "invariant capacity broken" "$work/a" ||
  { echo "sim.run_violation: the planted record's two faults are not both named:"; cat "$work/a"; exit 1; }
run "$work/b"
cmp -s "$work/a" "$work/b" || { echo "sim.run_violation: the same seed stopped elsewhere:"; diff "$work/a" "$work/b"; exit 1; }
# Without the planted record the same seed runs to its end, clean.
"$fedmesh" sim run "$scenario" --seed 3 --json | jq -e '.invariant_violations == 0 and (has("stopped") | not)' > /dev/null ||
  { echo "sim.run_violation: the clean run reports a violation"; exit 1; }
echo "sim.run_violation: ok: $(head -1 "$work/a")"
