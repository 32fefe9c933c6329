#!/usr/bin/env bash
# tests/bench/simgrid_compare/smoke.sh BUILD_DIR: ctest bench.simgrid_compare.
# Runs simgrid_compare small (20 sites, 2,000 messages, one run per side,
# the European star and a constant 5 ms) and checks that it ends well, that
# its JSON has every field, and that both sides delivered exactly the 2,000
# messages with the same checksum. It never checks a speed. Without SimGrid
# it checks fedmesh's side and the "absent" report, then skips (exit 77)
# and says why.
set -u
build=${1:?usage: smoke.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "bench.simgrid_compare: $*" >&2; exit 1; }
command -v jq >/dev/null || fail "needs jq"

check() { # latency_ms
  local out rc
  out=$("$here/simgrid_compare" --build "$build" --nodes 20 --messages 2000 --repeat 1 \
    --latency-ms "$1" --json)
  rc=$?
  [ $rc -eq 0 ] || fail "simgrid_compare exited $rc: $out"
  echo "$out"
  for field in bench nodes messages seed latency event repeat fedmesh simgrid ratio_events_per_s \
    ratio_wall same_delivered same_checksum agree; do
    echo "$out" | jq -e "has(\"$field\")" >/dev/null || fail "no field $field in $out"
  done
  for field in delivered checksum virtual_end_ns latency_mean_ns wall_s events_per_s runs_agree; do
    echo "$out" | jq -e ".fedmesh | has(\"$field\")" >/dev/null || fail "no fedmesh.$field in $out"
  done
  [ "$(echo "$out" | jq .fedmesh.delivered)" = 2000 ] || fail "fedmesh delivered not 2000: $out"
  if [ "$(echo "$out" | jq -r .simgrid)" = absent ]; then
    echo "$out" | jq -e '.ratio_events_per_s == null' >/dev/null || fail "a ratio without SimGrid"
    return 77
  fi
  for field in delivered checksum virtual_end_ns latency_mean_ns wall_s events_per_s version; do
    echo "$out" | jq -e ".simgrid | has(\"$field\")" >/dev/null || fail "no simgrid.$field in $out"
  done
  [ "$(echo "$out" | jq .simgrid.delivered)" = 2000 ] || fail "SimGrid delivered not 2000: $out"
  echo "$out" | jq -e '.same_delivered and .same_checksum and .agree' >/dev/null ||
    fail "the sides disagree: $out"
  echo "$out" | jq -e '.ratio_events_per_s | type == "number"' >/dev/null || fail "no ratio: $out"
  return 0
}

check 0
rc=$?
if [ $rc -eq 77 ]; then
  echo "bench.simgrid_compare: SKIPPED the comparison: SimGrid (Debian libsimgrid-dev) is not" \
    "installed; fedmesh's side and the \"absent\" report were checked" >&2
  exit 77
fi
check 5 || exit $?
echo "bench.simgrid_compare: both sides delivered the same 2,000 messages (EU star and 5 ms)"
