#!/usr/bin/env bash
# sim.false_down_sweep and sim.false_down_sweep_long: false_down_sweep.sh at
# both loss rates (1 % and 5 %); fails when any run counts a false down.
#   short: N = 200, seeds 1..10 (the default suite)
#   long:  N = 1,000, seeds 1..100, only with FEDMESH_LONG_SWEEP=1
set -uo pipefail
fedmesh=${1:?usage: false_down_sweep_test.sh FEDMESH short|long}
mode=${2:?usage: false_down_sweep_test.sh FEDMESH short|long}
here=$(cd "$(dirname "$0")" && pwd)
case "$mode" in
  short) nodes=200 last=10 ;;
  long)
    if [ "${FEDMESH_LONG_SWEEP:-0}" != 1 ]; then
      echo "sim.false_down_sweep_long: SKIPPED: 200 runs at N = 1,000 take hours of CPU;" \
        "set FEDMESH_LONG_SWEEP=1 to run them" >&2
      exit 77
    fi
    nodes=1000 last=100 ;;
  *) echo "false_down_sweep_test.sh: mode is short or long" >&2; exit 2 ;;
esac
work=$(mktemp -d /tmp/false-down-sweep-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
for loss in 0.01 0.05; do
  FEDMESH=$fedmesh SWEEP_DIR=$work "$here/false_down_sweep.sh" "$nodes" "$loss" 1 "$last" |
    tail -n 12 || fail=1
done
exit $fail
