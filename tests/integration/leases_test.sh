#!/usr/bin/env bash
# integration.leases: leases between real agents on 127.0.0.1, each with a
# RocksDB ledger, through the CLI (fedmesh borrow, leases, release) and the
# HTTP API.
#
# Three members: a (FR, HDS: the borrower), b (DE, C5) and c (FR, HDS),
# each lending 64 of 128 vCPUs. Checks: a borrow under the "health" data
# class (FR + HDS) lands on c only; 100 vCPUs split over b and c; a borrow
# in IT is refused naming the country; a request wider than its data class
# is a usage error (400); the lender's "granted" hook runs with the lease
# as JSON on stdin; a lender whose hook fails ends the lease at once; a
# released lease settles on both sides; after SIGKILL and restart a lender
# restores its open leases from the ledger; at the end every pair of
# ledgers reconciles record for record and every ledger verifies. Bounded
# waits; nothing is left running (trap).
set -u
fedmesh=${1:?usage: leases_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin leases
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }

free_ports 9 $((23000 + ($$ * 11) % 30000)) || { bad "found only ${#ports[@]} free ports"; finish; }
make_token token >/dev/null
admit_member a FR --cert HDS --jurisdiction EU || { bad "identity a"; finish; }
admit_member b DE --cert C5 --jurisdiction EU || { bad "identity b"; finish; }
admit_member c FR --cert HDS --jurisdiction EU || { bad "identity c"; finish; }

# The hooks: c records what it is given; b's granted hook fails.
cat >record-hook.sh <<'EOF'
#!/bin/sh
cat >>"$(dirname "$0")/hook-input.jsonl"
echo >>"$(dirname "$0")/hook-input.jsonl"
echo "recorded"
EOF
cat >fail-hook.sh <<'EOF'
#!/bin/sh
cat >/dev/null
echo "no room in the batch system" >&2
exit 3
EOF
chmod 755 record-hook.sh fail-hook.sh

i=0
for n in a b c; do
  { lease_agent_ini "$n" "$i"; printf '\n[data_class health]\ncountries = FR\ncertifications = HDS\n'; } >"$n.ini"
  i=$((i + 1))
done
printf '\n[hooks]\non_granted = record-hook.sh\non_ended = record-hook.sh\n' >>c.ini
printf '\n[hooks]\non_granted = fail-hook.sh\n' >>b.ini

start() {
  "$fedmesh" agent --config "$1.ini" 2>>"$1.log" &
  pids+=($!)
  eval "pid_$1=$!"
}
for n in a b c; do start $n; done

alive_count() {
  "$fedmesh" peers --config a.ini --json 2>/dev/null | jq '[.members[] | select(.state == "alive")] | length'
}
three_alive() { [ "$(alive_count)" = 3 ]; }
wait_until 20 three_alive && ok || bad "three members alive: $(alive_count)"
sleep 1.5 # past every lender's start-up quiet time (offer_ttl)
# The view shows what constraints are checked against: measured round
# trips, keys and certificate hashes, and every class.
"$fedmesh" peers --config a.ini --json >peers.json
[ "$(jq '[.members[] | select(.self | not) | select(.rtt_ms > 0 and (.public_key | length) == 64 and (.certificate_hash | length) == 64)] | length' peers.json)" = 2 ] &&
  ok || bad "peers: rtt, key, certificate hash: $(head -c 600 peers.json)"
"$fedmesh" peers --config a.ini >peers.txt
contains peers.txt "vcpu " "the table shows the vcpu class"
contains peers.txt "RTT" "the table shows round trips"

# 1. The health data class: FR + HDS, so c and never b.
expect 0 "borrow under health" -- "$fedmesh" borrow --config a.ini --vcpu 8 --hours 1 --data-class health --json
[ "$(jq -r '.leases[0].peer_name' out)" = c ] && [ "$(jq -r '.leases[0].data_class' out)" = health ] &&
  [ "$(jq '.lease_count' out)" = 1 ] && ok || bad "health lease on c: $(cat out)"
health_id=$(jq -r '.leases[0].id' out)

# 2. 100 vCPUs: no lender lends more than 64, so it is split over b and c
# (c has 56 left). b's granted hook fails: b ends its part at once.
expect 0 "borrow 100" -- "$fedmesh" borrow --config a.ini --vcpu 100 --hours 1 --json
[ "$(jq '.lease_count' out)" -ge 2 ] && [ "$(jq '.granted[0].amount' out)" = 100 ] &&
  ok || bad "split borrow: $(cat out)"
b_id=$(jq -r '.leases[] | select(.peer_name == "b") | .id' out | head -1)
[ -n "$b_id" ] && ok || bad "a lease from b: $(cat out)"

# 3. No member is in IT: refused, the reason named; exit 1.
expect 1 "borrow in IT" -- "$fedmesh" borrow --config a.ini --vcpu 4 --hours 1 --country IT --json
[ "$(jq -r '.status' out)" = refused ] && [ "$(jq '.refusals.country' out)" = 2 ] &&
  ok || bad "IT refusal: $(cat out)"
# 4. Wider than the data class: a usage error, the field named.
expect 2 "wider than health" -- "$fedmesh" borrow --config a.ini --vcpu 4 --hours 1 --data-class health --country DE
contains err "countries" "the wider field is named"

# 5. The lender's hook got the lease as JSON on stdin.
hook_seen() { [ -s hook-input.jsonl ] && grep -q "$health_id" hook-input.jsonl; }
wait_until 10 hook_seen && ok || bad "c's granted hook input: $(cat hook-input.jsonl 2>/dev/null)"
head -1 hook-input.jsonl >first-hook.json
[ "$(jq -r '.event' first-hook.json)" = granted ] && [ "$(jq -r '.role' first-hook.json)" = lender ] &&
  [ "$(jq '.lease.resources[0].amount' first-hook.json)" -gt 0 ] && ok || bad "hook JSON: $(cat first-hook.json)"

# 6. b's failed hook ended its lease: reclaimed (then settled) on both sides.
lease_state() { # NODE ID
  "$fedmesh" leases --config "$1.ini" --json 2>/dev/null | jq -r --arg id "$2" '.leases[] | select(.id == $id) | .state'
}
b_settled() { [ "$(lease_state a "$b_id")" = settled ] && [ "$(lease_state b "$b_id")" = settled ]; }
wait_until 15 b_settled && ok || bad "b's lease after its hook failed: a=$(lease_state a "$b_id") b=$(lease_state b "$b_id")"
grep -q 'event=hook_reclaim' b.log && ok || bad "b logs the hook reclaim"

# Metrics: c counts the leases it lent, and shows what it lends.
if command -v curl >/dev/null; then
  curl -sS -m 5 "http://127.0.0.1:${ports[8]}/metrics" >metrics.txt 2>/dev/null
  granted=$(sed -n 's/^fedmesh_leases_granted_total{role="lender"} //p' metrics.txt)
  [ "${granted:-0}" -ge 1 ] && ok || bad "c's metrics count lent leases: '$granted'"
  contains metrics.txt 'fedmesh_capacity_units{class="vcpu",model="",kind="lent"}' "capacity units"
  contains metrics.txt 'fedmesh_hook_runs_total' "hook runs"
fi

# An inventory system sets c's capacity through the API; the advert follows.
if command -v curl >/dev/null; then
  capi=http://127.0.0.1:${ports[8]}
  auth="Authorization: Bearer $(cat token)"
  code=$(curl -sS -m 5 -o cap.json -w '%{http_code}' -H "$auth" \
    -d '{"resources":[{"class":"vcpu","total":512,"lendable":300}]}' "$capi/v1/capacity")
  [ "$code" = 200 ] && [ "$(jq '.resources[0].total' cap.json)" = 512 ] &&
    [ "$(jq '.resources[0].lendable' cap.json)" = 300 ] && ok || bad "POST /v1/capacity: $code $(cat cap.json)"
  code=$(curl -sS -m 5 -o cap.json -w '%{http_code}' -H "$auth" \
    -d '{"resources":[{"class":"gpu","model":"H100","total":8,"lendable":2}]}' "$capi/v1/capacity")
  [ "$code" = 400 ] && grep -q 'does not lend gpu' cap.json && ok || bad "capacity for a class c lacks: $code $(cat cap.json)"
  code=$(curl -sS -m 5 -o cap.json -w '%{http_code}' -H "$auth" \
    -d '{"resources":[{"class":"vcpu","total":8,"lendable":9}]}' "$capi/v1/capacity")
  [ "$code" = 400 ] && grep -q 'lendable is over its total' cap.json && ok || bad "lendable over total: $code $(cat cap.json)"
  c_total() {
    [ "$("$fedmesh" peers --config a.ini --json | jq '.members[] | select(.name == "c") | .resources[] | select(.class == "vcpu") | .total')" = 512 ]
  }
  wait_until 10 c_total && ok || bad "a sees c's new total in its advert"
fi

# 7. Release the health lease: it settles on both sides.
expect 0 "release" -- "$fedmesh" release --config a.ini "$health_id"
health_settled() { [ "$(lease_state a "$health_id")" = settled ] && [ "$(lease_state c "$health_id")" = settled ]; }
wait_until 15 health_settled && ok || bad "released lease settles: a=$(lease_state a "$health_id") c=$(lease_state c "$health_id")"
ended_seen() { grep -q '"event":"ended"' hook-input.jsonl; }
wait_until 10 ended_seen && ok || bad "c's ended hook ran"
expect 3 "release again (404: no open lease)" -- "$fedmesh" release --config a.ini "$health_id"
expect 2 "release a bad id" -- "$fedmesh" release --config a.ini nothex

# 8. SIGKILL the lender c mid-lease, restart it: its open lease comes back.
open_on_c=$("$fedmesh" leases --config c.ini --json | jq '[.leases[] | select(.state == "open")] | length')
[ "$open_on_c" -ge 1 ] && ok || bad "c holds an open lease before the kill: $open_on_c"
kill -KILL "$pid_c"
wait "$pid_c" 2>/dev/null
start c
c_back() {
  [ "$("$fedmesh" leases --config c.ini --json 2>/dev/null | jq '[.leases[] | select(.state == "open" and .phase == "active")] | length')" = "$open_on_c" ]
}
wait_until 15 c_back && ok || bad "c restores its open leases: $("$fedmesh" leases --config c.ini --json 2>&1 | head -c 400)"
grep -q "event=restored leases=$open_on_c" c.log && ok || bad "c logs the restore"

# 9. Stop everyone cleanly; every pair of ledgers agrees, every ledger verifies.
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
pids=()
for n in a b c; do
  expect 0 "ledger verify $n" -- "$fedmesh" ledger verify --ledger "$n.ledger"
done
for pair in "a b" "a c" "b c"; do
  set -- $pair
  expect 0 "reconcile $1 $2" -- "$fedmesh" ledger reconcile --ledger "$1.ledger" --other "$2.ledger" --json
done
"$fedmesh" ledger reconcile --ledger a.ledger --other c.ledger --json >rec.json
[ "$(jq '.shared' rec.json)" -ge 4 ] && ok || bad "a and c share records: $(cat rec.json)"
finish
