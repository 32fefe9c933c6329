#!/usr/bin/env bash
# integration.ledger_audit: reconciling ledgers over the network and the
# residency audit, between real agents on 127.0.0.1 (the setup of
# integration.leases).
#
# Three members: a (FR, HDS: the borrower), b (DE, C5) and c (FR, HDS).
# a borrows from c under the "health" data class (FR + HDS) and from b;
# b borrows from c; all are released and settle. Then:
#   - fedmesh ledger reconcile --config X --peer Y (through X's agent, over
#     the network) agrees for every pair, in text and JSON; an unknown
#     peer is a 404 (exit 3);
#   - fedmesh ledger audit: JSON with each lease's parties, the lender's
#     certified country and certifications, data class, constraints,
#     window and end, amounts, records with both signatures, and the
#     certificates; CSV with one row per record; --since past the leases
#     lists none;
#   - fedmesh ledger audit --verify FILE --root ROOT.pub passes on the real
#     report and fails, naming why, on a report with a changed country, a
#     changed amount, a changed record byte, a dropped certificate, or
#     checked against another root key;
#   - c is stopped, one signature of its last record is forged offline
#     (fedmesh-testtool ledger forge: the chain is re-hashed, so the ledger
#     still opens), c restarts: a's network reconcile with c now exits 1
#     and names that lease; c's own verify names the bad signature.
# Bounded waits; nothing is left running (trap).
set -u
fedmesh=${1:?usage: ledger_audit_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
testtool=$(dirname "$fedmesh")/fedmesh-testtool
. "$(dirname "$0")/lib.sh"
test_begin ledger_audit
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }
[ -x "$testtool" ] || { bad "$testtool is missing (built with the tests)"; finish; }

# Below Linux's ephemeral range (32768..60999), so that no outgoing
# connection takes a port between this check and the agents' listen.
free_ports 9 $((24000 + ($$ * 13) % 8000)) || { bad "found only ${#ports[@]} free ports"; finish; }
make_token token >/dev/null
admit_member a FR --cert HDS --jurisdiction EU || { bad "identity a"; finish; }
admit_member b DE --cert C5 --jurisdiction EU || { bad "identity b"; finish; }
admit_member c FR --cert HDS --jurisdiction EU || { bad "identity c"; finish; }

i=0
for n in a b c; do
  { lease_agent_ini "$n" "$i"; printf '\n[data_class health]\ncountries = FR\ncertifications = HDS\n'; } >"$n.ini"
  i=$((i + 1))
done

start() {
  "$fedmesh" agent --config "$1.ini" 2>>"$1.log" &
  pids+=($!)
  eval "pid_$1=$!"
}
for n in a b c; do start $n; done

alive_in() { # NODE: how many members NODE sees alive
  "$fedmesh" peers --config "$1.ini" --json 2>/dev/null | jq '[.members[] | select(.state == "alive")] | length'
}
all_alive() { [ "$(alive_in a)" = 3 ] && [ "$(alive_in b)" = 3 ] && [ "$(alive_in c)" = 3 ]; }
wait_until 20 all_alive && ok ||
  bad "three members alive: a=$(alive_in a) b=$(alive_in b) c=$(alive_in c); $(tail -n 3 a.log b.log c.log)"
sleep 1.5 # past every lender's start-up quiet time (offer_ttl)

# Leases: a from c (health), a from b, b from c; then all released.
borrow() { # BORROWER LENDER [ARGS...]: prints the lease id
  local borrower=$1 lender=$2
  shift 2
  "$fedmesh" borrow --config "$borrower.ini" --vcpu 8 --hours 1 --lender "$lender" "$@" --json 2>/dev/null |
    jq -r '.leases[0].id // empty'
}
ac=$(borrow a c --data-class health)
ab=$(borrow a b)
bc=$(borrow b c)
[ -n "$ac" ] && [ -n "$ab" ] && [ -n "$bc" ] && ok || bad "three leases: ac=$ac ab=$ab bc=$bc"
sleep 2 # a few usage records
expect 0 "release a<-c" -- "$fedmesh" release --config a.ini "$ac"
expect 0 "release a<-b" -- "$fedmesh" release --config a.ini "$ab"
expect 0 "release b<-c" -- "$fedmesh" release --config b.ini "$bc"
lease_state() { # NODE ID
  "$fedmesh" leases --config "$1.ini" --json 2>/dev/null | jq -r --arg id "$2" '.leases[] | select(.id == $id) | .state'
}
all_settled() {
  [ "$(lease_state a "$ac")" = settled ] && [ "$(lease_state c "$ac")" = settled ] &&
    [ "$(lease_state a "$ab")" = settled ] && [ "$(lease_state b "$ab")" = settled ] &&
    [ "$(lease_state b "$bc")" = settled ] && [ "$(lease_state c "$bc")" = settled ]
}
wait_until 20 all_settled && ok || bad "every lease settles on both sides"

# 1. Network reconcile: every pair agrees, each side asking.
for pair in "a c" "c a" "a b" "b c"; do
  set -- $pair
  expect 0 "reconcile $1 with $2" -- "$fedmesh" ledger reconcile --config "$1.ini" --peer "$2" --json
  [ "$(jq -r '.agree' out)" = true ] && [ "$(jq '.shared' out)" -ge 1 ] &&
    [ "$(jq '.only_here + .only_there + .differ' out)" = 0 ] && [ "$(jq -r '.peer_name' out)" = "$2" ] &&
    ok || bad "$1 and $2 agree over the network: $(cat out)"
done
expect 0 "reconcile (text)" -- "$fedmesh" ledger reconcile --config a.ini --peer c
contains out "agree with c" "the text names the peer"
expect 3 "reconcile with nobody" -- "$fedmesh" ledger reconcile --config a.ini --peer nobody
contains err "no member 'nobody'" "the unknown peer is named"
expect 2 "network reconcile needs --peer" -- "$fedmesh" ledger reconcile --config a.ini
grep -q 'event=reconcile_done' a.log && ok || bad "a logs its reconciles"

# 2. The audit, JSON: a's three... two leases, with everything a regulator asks.
expect 0 "audit a (json)" -- "$fedmesh" ledger audit --config a.ini
cp out audit.json
jq -e . audit.json >/dev/null && ok || bad "the audit is JSON: $(head -c 300 audit.json)"
[ "$(jq '.lease_count' audit.json)" = 2 ] && [ "$(jq '.leases | length' audit.json)" = 2 ] &&
  ok || bad "a's audit lists its 2 leases: $(jq '.lease_count' audit.json)"
jq --arg id "$ac" '.leases[] | select(.lease_id == $id)' audit.json >ac.json
[ "$(jq -r '.lender_name' ac.json)" = c ] && [ "$(jq -r '.borrower_name' ac.json)" = a ] &&
  [ "$(jq -r '.lender_country' ac.json)" = FR ] && [ "$(jq -r '.lender_certifications[0]' ac.json)" = HDS ] &&
  [ "$(jq -r '.data_class' ac.json)" = health ] && [ "$(jq -r '.constraints.countries[0]' ac.json)" = FR ] &&
  [ "$(jq -r '.constraints.certifications[0]' ac.json)" = HDS ] && [ "$(jq -r '.role' ac.json)" = borrower ] &&
  [ "$(jq -r '.state' ac.json)" = settled ] && [ "$(jq -r '.ended.kind' ac.json)" = released ] &&
  [ "$(jq '(.window.end_ns | tonumber) > (.window.start_ns | tonumber)' ac.json)" = true ] &&
  [ "$(jq '.reserved[0].amount_milli' ac.json)" = 8000 ] &&
  [ "$(jq '.settled[0].amount_milli == .usage_total[0].amount_milli' ac.json)" = true ] &&
  ok || bad "the health lease in the audit: $(head -c 600 ac.json)"
[ "$(jq '([.records[] | select((.lender_signature | length) == 128 and (.borrower_signature | length) == 128)] | length) == (.records | length)' ac.json)" = true ] &&
  [ "$(jq -r '.records[0].kind' ac.json)" = opened ] && ok || bad "every record with both signatures"
[ "$(jq '.certificates | length' audit.json)" = 3 ] && ok || bad "the certificates of a, b and c: $(jq '.certificates | keys' audit.json)"
records=$(jq '[.leases[].records[]] | length' audit.json)

# CSV: one row per record, the header first.
expect 0 "audit a (csv)" -- "$fedmesh" ledger audit --ledger a.ledger --format csv
contains out "lease_id,number,kind,time,role,state,lender,lender_name,borrower,borrower_name,lender_country" "csv header"
[ "$(($(wc -l <out) - 1))" = "$records" ] && ok || bad "csv: $(($(wc -l <out) - 1)) rows for $records records"
grep -q "^$ac,0,opened,.*,borrower,settled,.*,c,.*,a,FR,EU,HDS,health,countries=FR;" out && ok ||
  bad "csv row of the opening: $(grep "^$ac,0," out)"
expect 0 "audit --since after the leases" -- "$fedmesh" ledger audit --ledger a.ledger --since @4102444800
[ "$(jq '.lease_count' out)" = 0 ] && ok || bad "--since filters: $(jq '.lease_count' out)"
expect 2 "audit --format xml" -- "$fedmesh" ledger audit --ledger a.ledger --format xml

# 3. --verify: the real report passes, with the root key alone.
expect 0 "verify the audit" -- "$fedmesh" ledger audit --verify audit.json --root root.key.pub
[ "$(jq -r '.audit_verified' out)" = true ] && [ "$(jq '.signatures' out)" = $((records * 2)) ] &&
  ok || bad "audit_verified: $(cat out)"
expect 0 "audit c and verify it" -- "$fedmesh" ledger audit --ledger c.ledger
cp out audit-c.json
expect 0 "verify c's audit" -- "$fedmesh" ledger audit --verify audit-c.json --root root.key.pub

# ... and every tampered report fails, naming why.
tampered() { # NAME JQ_FILTER EXPECTED_TEXT
  jq --arg id "$ac" "$2" audit.json >"$1.json"
  expect 1 "verify $1" -- "$fedmesh" ledger audit --verify "$1.json" --root root.key.pub
  [ "$(jq -r '.audit_verified' out)" = false ] && ok || bad "$1: audit_verified is not false: $(cat out)"
  contains err "$3" "$1: the failure is named"
}
tampered country '(.leases[] | select(.lease_id == $id) | .lender_country) = "DE"' "field 'lender_country'"
tampered amount '(.leases[] | select(.lease_id == $id) | .reserved[0].amount_milli) += 1000' "field 'reserved'"
tampered settled '(.leases[] | select(.lease_id == $id) | .settled[0].amount_milli) += 1' "field 'settled'"
# A byte inside the OPENED record's bytes (near its end: the constraints).
tampered record '(.leases[] | select(.lease_id == $id) | .records[0].record) |= (.[0:-4] + (if .[-4:-2] == "00" then "01" else "00" end) + .[-2:])' "record 0"
tampered dropped_cert 'del(.certificates[(.leases[] | select(.lease_id == $id) | .lender_cert_hash)])' "is not in the report"
tampered cert_byte '.certificates[(.leases[] | select(.lease_id == $id) | .lender_cert_hash)] |= (.[0:-2] + (if .[-2:] == "00" then "01" else "00" end))' "hash"
tampered dropped_record '(.leases[] | select(.lease_id == $id) | .records) |= .[1:]' "record 0"
tampered self '.self = "fm7tglf5owne3dax3cjzf2zb7yza"' "\"self\""
"$fedmesh" federation init --out other.key >/dev/null 2>&1
expect 1 "verify against another root" -- "$fedmesh" ledger audit --verify audit.json --root other.key.pub
contains err "does not check against the root key" "the wrong root is named"
expect 2 "verify without --root" -- "$fedmesh" ledger audit --verify audit.json

# 4. Forge c's ledger offline, restart c: the network reconcile names it.
kill -TERM "$pid_c"
wait "$pid_c" 2>/dev/null
expect 0 "forge c's last record" -- "$testtool" ledger forge --ledger c.ledger --signature borrower
forged=$(grep -oE 'lease [0-9a-f]{32}' out | cut -d' ' -f2)
[ -n "$forged" ] && ok || bad "forge names the lease: $(cat out)"
expect 1 "c's verify finds the forged signature" -- "$fedmesh" ledger verify --ledger c.ledger
contains err "signature" "verify names the signature"
start c
c_back() { [ "$(alive_in a)" = 3 ] && [ "$(alive_in c)" = 3 ]; }
wait_until 20 c_back && ok || bad "c is back: a sees $(alive_in a), c sees $(alive_in c)"
# The forged lease is c's with a (ac) or with b (bc): ask from that side;
# the other pair still agrees.
if [ "$forged" = "$bc" ]; then asker=b pair=a; else asker=a pair=b; fi
mismatch_from() {
  "$fedmesh" ledger reconcile --config "$asker.ini" --peer c --json >out 2>err
  [ $? -eq 1 ] && [ "$(jq -r '.agree' out)" = false ]
}
wait_until 20 mismatch_from && ok || bad "$asker's reconcile with c differs: $(cat out err)"
[ "$(jq -r '.mismatches[0].lease' out)" = "$forged" ] && [ "$(jq '.differ' out)" = 1 ] &&
  jq -r '.mismatches[0].what' out | grep -q "different bytes or signatures" && ok ||
  bad "the forged lease is named: $(cat out)"
"$fedmesh" ledger reconcile --config "$asker.ini" --peer c >out 2>err
contains out "DIFFER with c" "the text says they differ"
contains out "lease $forged: same" "the text names the lease"
expect 0 "$pair and c still agree" -- "$fedmesh" ledger reconcile --config "$pair.ini" --peer c --json

for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
pids=()
finish
