#!/usr/bin/env bash
# sim.verify_cache: the simulator's shared caches change nothing but the
# speed, and a shared store too small fails the run.
#
# 1. `fedmesh sim gossip` with the shared memo of valid signatures and
#    with --no-verify-cache prints byte-identical JSON (the digest of
#    every message's fate included), for runs with loss, crashes, a
#    partition, clock skew and hostile members (whose forged, replayed and
#    other-root frames a wrong memo would let through).
# 2. A shared frame store that must refuse frames (--store-adverts-max 8
#    for 20 nodes) fails the run: exit 5, the store's counts on stderr,
#    no figures on stdout. A run of default size prints no refusal.
set -uo pipefail
fedmesh=${1:?usage: verify_cache_test.sh FEDMESH}
work=$(mktemp -d "${TMPDIR:-/tmp}/verify-cache.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
failures=0

same_with_and_without() { # ARGS...: one run each way, compared byte for byte
  local with without
  with=$("$fedmesh" sim gossip "$@" --json --no-wall 2>"$work/with.err") || {
    echo "FAIL: sim gossip $* exited $?: $(cat "$work/with.err")"; failures=$((failures + 1)); return; }
  without=$("$fedmesh" sim gossip "$@" --json --no-wall --no-verify-cache 2>"$work/without.err") || {
    echo "FAIL: sim gossip $* --no-verify-cache exited $?: $(cat "$work/without.err")"
    failures=$((failures + 1)); return; }
  local digest
  digest=$(grep -o '"digest":"[0-9a-f]*"' <<<"$with")
  if [ -z "$digest" ]; then
    echo "FAIL: no digest in: $with"; failures=$((failures + 1))
  elif [ "$with" != "$without" ]; then
    echo "FAIL: sim gossip $*: the cache changed the run:"
    diff <(tr ',' '\n' <<<"$with") <(tr ',' '\n' <<<"$without")
    failures=$((failures + 1))
  else
    echo "ok: sim gossip $*: identical with and without the cache ($digest)"
  fi
}

same_with_and_without --nodes 30 --seed 3 --loss 0.02 --crash 2 --partition-s 20 --idle-s 5 --hostile 2
same_with_and_without --nodes 48 --seed 11 --loss 0.05 --skew-ms 300 --crash 3 --idle-s 5 --hostile 4

out=$("$fedmesh" sim gossip --nodes 20 --seed 1 --idle-s 5 --store-adverts-max 8 --json --no-wall \
  2>"$work/small.err")
rc=$?
if [ $rc -ne 5 ] || ! grep -q "shared frame store refused [0-9]* frames" "$work/small.err" || [ -n "$out" ]; then
  echo "FAIL: a store of 8 adverts for 20 nodes: exit $rc (want 5), stdout '$out' (want none), stderr:"
  cat "$work/small.err"
  failures=$((failures + 1))
else
  echo "ok: a store too small fails the run: $(head -n 1 "$work/small.err")"
fi
out=$("$fedmesh" sim gossip --nodes 20 --seed 1 --idle-s 5 --json --no-wall 2>"$work/default.err")
rc=$?
if [ $rc -ne 0 ] || grep -q "refused" "$work/default.err"; then
  echo "FAIL: the default store: exit $rc, stderr: $(cat "$work/default.err")"
  failures=$((failures + 1))
else
  echo "ok: the default store refuses nothing"
fi

if [ $failures -ne 0 ]; then
  echo "sim.verify_cache: $failures case(s) failed"
  exit 1
fi
echo "sim.verify_cache: ok"
