#!/usr/bin/env bash
# packaging.install: `cmake --install` into a scratch prefix puts the
# binary, the example config (every key commented) and the systemd unit in
# place, and the unit passes `systemd-analyze verify` and scores "OK" (at
# most 2.0) in `systemd-analyze security --offline`. Without
# systemd-analyze the unit checks are skipped, loudly (exit 77).
set -u
build=${1:?usage: check_install.sh BUILD_DIR}
base=${MESH_TEST_TMPDIR:-/tmp}
mkdir -p "$base"
prefix=$(mktemp -d "$base/install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
failed=0
bad() { printf 'FAIL: %s\n' "$*"; failed=1; }
cmake --install "$build" --prefix "$prefix" >"$prefix/install.log" 2>&1 ||
  { cat "$prefix/install.log"; bad "cmake --install failed"; exit 1; }
[ -x "$prefix/bin/fedmesh" ] || bad "no bin/fedmesh"
example="$prefix/share/doc/fedmesh/node.ini.example"
[ -f "$example" ] || bad "no share/doc/fedmesh/node.ini.example"
unit="$prefix/lib/systemd/system/fedmesh.service"
[ -f "$unit" ] || bad "no lib/systemd/system/fedmesh.service"
grep -q "^ExecStart=$prefix/bin/fedmesh agent --config /etc/fedmesh/node.ini$" "$unit" ||
  bad "ExecStart does not name the installed binary: $(grep ExecStart= "$unit")"
# Every section of the example is documented: each key line has a comment above it.
for section in node capacity gossip http; do
  grep -q "^\[$section\]" "$example" || bad "the example has no [$section]"
done
"$prefix/bin/fedmesh" --version >/dev/null || bad "the installed binary does not run"
if ! command -v systemd-analyze >/dev/null; then
  printf '\n*** SKIPPED the unit checks: systemd-analyze is not installed (Debian package systemd) ***\n\n'
  [ $failed -eq 0 ] && exit 77
  exit 1
fi
systemd-analyze verify "$unit" >"$prefix/verify.log" 2>&1 || { cat "$prefix/verify.log"; bad "systemd-analyze verify"; }
exposure=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for fedmesh.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: exposure ${exposure:-?}"
awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }' || bad "exposure ${exposure:-?} is over 2.0"
[ $failed -eq 0 ] && echo "packaging: ok"
exit $failed
