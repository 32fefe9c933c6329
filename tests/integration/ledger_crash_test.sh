#!/usr/bin/env bash
# integration.ledger_crash: a ledger writer under load (fedmesh-testtool
# ledger append, RocksDB, one synced batch per group, 'ack SEQ' printed only
# after the batch is synced) is killed with SIGKILL at a random moment,
# ROUNDS times (default 60). After each kill, 'fedmesh ledger verify'
# must pass, and every record acknowledged before the kill must be in the
# journal: verify checks that the journal is gap-free and chained up to
# its head, so the head must be at least the highest acknowledged seq.
# Each restart resumes the same deterministic stream where the ledger
# ends. Records are unsigned here (--unsigned), so that signing does not
# throttle the writer and verify stays fast; signatures are covered by
# the unit, property and CLI tests.
set -u
fedmesh=${1:?usage: ledger_crash_test.sh PATH_TO_FEDMESH}
testtool=$(dirname "$fedmesh")/fedmesh-testtool
rounds=${LEDGER_CRASH_ROUNDS:-60}
base=${MESH_TEST_TMPDIR:-/tmp}
mkdir -p "$base"
dir=$(mktemp -d "$base/ledger_crash.XXXXXX")
writer=
cleanup() {
  if [ -n "$writer" ]; then kill -KILL "$writer" 2>/dev/null; wait "$writer" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT
db=$dir/ledger
acked_max=0
kills=0
started=$(date +%s)

for round in $(seq 1 "$rounds"); do
  "$testtool" ledger append --ledger "$db" --demo-seed 42 --peers 3 --count 100000000 \
    --batch $((RANDOM % 32 + 1)) --unsigned >"$dir/acks" 2>"$dir/writer.err" &
  writer=$!
  # Kill somewhere between 30 and 330 ms in: during RocksDB's open and
  # recovery, the stream's resume, or appends and synced commits.
  # Every fourth round first waits (10 s at most) for the writer's first
  # acknowledgement, so that a slow machine, where 330 ms can end before
  # RocksDB has opened, still kills mid-stream in a quarter of the rounds.
  if [ $((round % 4)) -eq 0 ]; then
    for _ in $(seq 1 200); do
      grep -q '^ack ' "$dir/acks" 2>/dev/null && break
      sleep 0.05
    done
  fi
  sleep "0.$(printf '%03d' $((RANDOM % 300 + 30)))"
  if ! kill -KILL "$writer" 2>/dev/null; then
    echo "FAIL: round $round: the writer had already exited: $(head -c 300 "$dir/writer.err")"
    exit 1
  fi
  wait "$writer" 2>/dev/null
  writer=
  kills=$((kills + 1))
  # Any line, even one cut short by the kill, is a prefix of an ack, so
  # its number is at most that of a record acknowledged after its sync.
  last=$(grep -oE '^ack [0-9]+' "$dir/acks" | tail -n 1 | cut -d' ' -f2)
  if [ -n "$last" ] && [ "$last" -gt "$acked_max" ]; then acked_max=$last; fi
  if ! "$fedmesh" ledger verify --ledger "$db" --json >"$dir/verify" 2>"$dir/verify.err"; then
    if [ "$acked_max" -eq 0 ] && grep -q 'no ledger here' "$dir/verify.err"; then
      # Killed before the writer had made its ledger: nothing was
      # acknowledged, so nothing can be lost; the next writer makes it.
      continue
    fi
    echo "FAIL: round $round: verify failed: $(cat "$dir/verify.err") $(cat "$dir/verify")"
    exit 1
  fi
  head=$(jq -r .head_seq "$dir/verify")
  if [ "$head" -lt "$acked_max" ]; then
    echo "FAIL: round $round: head $head, but seq $acked_max was acknowledged"
    exit 1
  fi
done

elapsed=$(($(date +%s) - started))
if [ "$acked_max" -le 0 ]; then
  echo "FAIL: no record was ever acknowledged"
  exit 1
fi
echo "ok: $kills SIGKILLs in ${elapsed}s, verify passed after each; $acked_max records acknowledged, head $head"
exit 0
