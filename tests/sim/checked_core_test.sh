#!/usr/bin/env bash
# sim.checked_core: the simulator runs the state machines with their checks
# on (MESH_SIMULATOR: MESH_NEVER and MESH_DEBUG_ASSERT panic), and the agent
# in the same binary runs the release core (sim/CMakeLists.txt says how).
#   - the checked object exports the simulator's API (sim_*) and nothing else;
#   - fedmesh holds both copies of the core: lease_on_message, say, global
#     (the release one the agent calls) and local (the simulator's);
#   - a MESH_DEBUG_ASSERT's text (wire/gossip.c: wire_digest_valid) is in the
#     checked object, and not in the release library unless this is a Debug
#     build (MESH_DEBUG turns the checks on there too).
set -u
fedmesh=${1:?usage: checked_core_test.sh FEDMESH LIBMESH_WIRE CHECKED_OBJECT}
release_wire=${2:?usage: checked_core_test.sh FEDMESH LIBMESH_WIRE CHECKED_OBJECT}
checked=${3:?usage: checked_core_test.sh FEDMESH LIBMESH_WIRE CHECKED_OBJECT}
command -v nm >/dev/null || { echo "sim.checked_core: nm is not installed"; exit 77; }
failed=0
fail() { echo "FAIL: $1"; failed=1; }
exports=$(nm --defined-only -g "$checked" | awk '{print $3}' | grep -v '^sim_')
[ -z "$exports" ] || fail "the checked object exports more than sim_*: $(echo $exports | head -c 300)"
[ -n "$(nm --defined-only -g "$checked" | awk '$3 == "sim_lease_run"')" ] ||
  fail "the checked object does not export sim_lease_run"
for symbol in lease_on_message member_flush gossip_on_tick ledger_append; do
  nm "$fedmesh" | grep -qE " T $symbol\$" || fail "fedmesh has no global (release) $symbol"
  nm "$fedmesh" | grep -qE " t $symbol\$" || fail "fedmesh has no local (checked) $symbol"
done
grep -qa 'wire_digest_valid(&digest)' "$checked" ||
  fail "the checked object has no MESH_DEBUG_ASSERT text: MESH_SIMULATOR is off"
if grep -qa 'wire_digest_valid(&digest)' "$release_wire"; then
  grep -q 'CMAKE_BUILD_TYPE:STRING=Debug' "$(dirname "$checked")/../CMakeCache.txt" 2>/dev/null ||
    fail "the release mesh_wire has the checks on outside a Debug build"
fi
[ "$failed" -eq 0 ] && echo "sim.checked_core: ok"
exit "$failed"
