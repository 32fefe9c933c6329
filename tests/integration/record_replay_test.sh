#!/usr/bin/env bash
# integration.record_replay: a live 3-agent run on 127.0.0.1 recorded with
# `fedmesh agent --record`, then each recording replayed with `fedmesh sim
# replay` (node/record_int.h, sim/replay.h).
#
# Three members a, b, c with RocksDB ledgers gossip; a borrows twice
# (fedmesh borrow) and releases one lease; all stop cleanly (SIGTERM).
# Checks: each replay exits 0 and counts the same inputs and outputs that
# its agent logged when it closed the recording; a replay without the key,
# or with another node's key, is refused, and the key's bytes are not in
# the recording; a copy with one flipped byte in a frame record is
# refused, naming the record; a cut-off copy is refused, or replayed up to
# the cut with --partial. (Rotation and a missing first segment are
# tested in tests/unit/node_record_test.c.) Bounded waits; nothing is left
# running (trap).
set -u
fedmesh=${1:?usage: record_replay_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin record_replay
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }

free_ports 9 $((14000 + ($$ * 13) % 15000)) || { bad "found only ${#ports[@]} free ports"; finish; }
make_token token >/dev/null
for n in a b c; do admit_member $n FR --cert HDS --jurisdiction EU || { bad "identity $n"; finish; }; done

i=0
for n in a b c; do
  lease_agent_ini "$n" "$i" >"$n.ini"
  i=$((i + 1))
done

start() { # NAME [AGENT OPTIONS...]
  local n=$1
  shift
  "$fedmesh" agent --config "$n.ini" "$@" 2>>"$n.log" &
  pids+=($!)
}
alive_count() {
  "$fedmesh" peers --config a.ini --json 2>/dev/null | jq '[.members[] | select(.state == "alive")] | length'
}
three_alive() { [ "$(alive_count)" = 3 ]; }
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  pids=()
}
# logged N FIELD: the agent's count at close (event=recording_closed).
logged() { grep 'event=recording_closed' "$1.log" | tail -1 | sed -n "s/.* $2=\([0-9]*\).*/\1/p"; }

# 1. A live run, recorded: gossip, two borrows, a release, and usage.
start a --record a.rec
start b --record b.rec
start c --record c.rec --record-max-mib 1 --record-keep 3 # rotation: tests/unit/node_record_test.c
wait_until 20 three_alive && ok || bad "three members alive: $(alive_count)"
sleep 1.5 # past every lender's start-up quiet time (offer_ttl)
expect 0 "borrow 8" -- "$fedmesh" borrow --config a.ini --vcpu 8 --hours 1 --json
first_id=$(jq -r '.leases[0].id' out)
expect 0 "borrow 80 (split)" -- "$fedmesh" borrow --config a.ini --vcpu 80 --hours 1 --json
[ "$(jq '.lease_count' out)" -ge 2 ] && ok || bad "split borrow: $(cat out)"
sleep 1.2 # a usage round
expect 0 "release" -- "$fedmesh" release --config a.ini "$first_id"
sleep 1
stop_all
for n in a b c; do
  grep -q 'event=recording_closed.*complete=yes' "$n.log" && ok || bad "$n closed its recording: $(grep record "$n.log" | tail -3)"
done

# 2. Each recording replays with identical outputs, as many as logged.
for n in a b c; do
  expect 0 "replay $n" -- "$fedmesh" sim replay --key "$n.key" --json "$n.rec"
  inputs=$(jq '.inputs' out)
  outputs=$(jq '.outputs' out)
  [ -n "$inputs" ] && [ "$inputs" = "$(logged "$n" inputs)" ] && [ "$outputs" = "$(logged "$n" outputs)" ] &&
    [ "$outputs" -gt 0 ] && [ "$(jq -r '.ending' out)" = complete ] &&
    ok || bad "replay $n counts: $(cat out) vs log: inputs=$(logged "$n" inputs) outputs=$(logged "$n" outputs)"
done
# a's run had leases in it: its replay went through borrows and releases.
expect 0 "replay a verbose" -- "$fedmesh" sim replay --key a.key --verbose a.rec
cp out verbose.txt
contains verbose.txt " borrow " "a's replay feeds the borrows"
contains verbose.txt " release " "a's replay feeds the release"
grep -q DIFFERENT verbose.txt && bad "a verbose replay saw a difference" || ok

# 3. The recording holds no secret: replay needs the key, and the right one.
expect 2 "replay without --key" -- "$fedmesh" sim replay a.rec
contains err "--key" "the missing key is named"
expect 3 "replay with b's key" -- "$fedmesh" sim replay --key b.key a.rec
contains err "not the key of the node that recorded" "another node's key is refused"
secret_hex=$(od -An -tx1 a.key | tr -d ' \n' | head -c 64)
! od -An -tx1 -v a.rec | tr -d ' \n' | grep -q "$secret_hex" && ok || bad "a.rec holds a.key's bytes"

# 4. One flipped byte in a frame: refused, the record named. The verbose
# listing gives each input's byte offset; a frame input's bytes start 30
# bytes into its body, which starts 20 bytes into the record.
frame_offset=$(grep -m1 ' frame ' verbose.txt | sed -n 's/.* offset=\([0-9]*\).*/\1/p')
cp a.rec bad.rec
if [ -n "$frame_offset" ]; then
  at=$((frame_offset + 20 + 30 + 5))
  byte=$(od -An -tu1 -j "$at" -N1 bad.rec | tr -d ' ')
  printf "$(printf '\\%03o' $(((byte ^ 0x5a) & 255)))" | dd of=bad.rec bs=1 seek="$at" conv=notrunc status=none
  ok
else
  bad "no frame input in a's verbose listing"
fi
expect 3 "replay a corrupted copy" -- "$fedmesh" sim replay --key a.key bad.rec
contains err "record " "the corrupt record is named"
contains err "checksum mismatch" "the corruption is a checksum mismatch"
cmp -s a.rec bad.rec && bad "bad.rec is a.rec unchanged" || ok

# 5. Cut off: refused; --partial replays up to the cut.
size=$(stat -c %s a.rec)
head -c $((size - 7)) a.rec >cut.rec
expect 3 "replay a cut-off copy" -- "$fedmesh" sim replay --key a.key cut.rec
contains err "cut off" "the cut is named"
expect 0 "replay a cut-off copy with --partial" -- "$fedmesh" sim replay --key a.key --partial --json cut.rec
[ "$(jq -r '.ending' out)" = "cut off" ] && ok || bad "partial replay: $(cat out)"

finish
