#!/usr/bin/env bash
# integration.ledger_cli: the ledger commands end to end on RocksDB, as an
# operator would run them: two nodes' ledgers written by the demo writer
# (fedmesh-testtool ledger append: records signed by both parties),
# balance, history, export, reconcile (agreeing, then not), verify, and
# the tamper test: one changed byte in any of several stored entries
# (fedmesh-testtool ledger tamper) makes verify exit 1 and name that
# entry; changing it back makes verify pass again. The writers are not in
# the product: fedmesh ledger append and tamper are refused.
set -u
fedmesh=${1:?usage: ledger_cli_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
testtool=$(dirname "$fedmesh")/fedmesh-testtool
. "$(dirname "$0")/lib.sh"
test_begin ledger_cli
json_is() { # json_is FILE JQ_FILTER VALUE DESCRIPTION
  local got
  got=$(jq -r "$2" "$1" 2>/dev/null)
  if [ "$got" = "$3" ]; then ok; else bad "$4: $2 is '$got', wanted '$3'"; fi
}

a=$dir/a
b=$dir/b
[ -x "$testtool" ] || { bad "$testtool is missing (built with the tests)"; finish; }
expect 0 "ledger --help" -- "$fedmesh" ledger --help
contains "$dir/out" "reconcile" "help lists reconcile"
contains "$dir/out" "audit" "help lists audit"
if grep -qE '^  (append|tamper) ' "$dir/out"; then bad "help lists a test tool"; else ok; fi
expect 2 "append is not in the product" -- "$fedmesh" ledger append --ledger "$a" --demo-seed 9
contains "$dir/err" "fedmesh-testtool ledger append" "the refusal says where it went"
expect 2 "tamper is not in the product" -- "$fedmesh" ledger tamper --ledger "$a" --seq 1
expect 2 "no subcommand" -- "$fedmesh" ledger
expect 2 "no path" -- "$fedmesh" ledger verify
expect 2 "both paths" -- "$fedmesh" ledger verify --ledger "$a" --config x.ini
expect 2 "bad peer" -- "$fedmesh" ledger balance --ledger "$a" --peer nobody
expect 2 "export without format" -- "$fedmesh" ledger export --ledger "$a"
expect 3 "missing ledger" -- "$fedmesh" ledger verify --ledger "$dir/none"
contains "$dir/err" "no ledger here" "missing ledger says so"

# Node 0 and node 1 of one demo federation (3 parties), same 120 stream
# positions; node 1 written in two runs (it resumes).
expect 0 "append a" -- "$testtool" ledger append --ledger "$a" --demo-seed 9 --as 0 --count 120 --batch 16
contains "$dir/out" "ack " "append prints acks"
expect 0 "append b" -- "$testtool" ledger append --ledger "$b" --demo-seed 9 --as 1 --count 50 --batch 7
expect 0 "append b again" -- "$testtool" ledger append --ledger "$b" --demo-seed 9 --as 1 --count 70 --batch 7
expect 4 "append as another party" -- "$testtool" ledger append --ledger "$a" --demo-seed 9 --as 1 --count 1

expect 0 "verify a" -- "$fedmesh" ledger verify --ledger "$a" --json
json_is "$dir/out" .ok true "verify a ok"
head_a=$(jq -r .head_seq "$dir/out")
json_is "$dir/out" .signatures $((head_a * 2)) "every record carries two signatures"
expect 0 "verify b (text)" -- "$fedmesh" ledger verify --ledger "$b"
contains "$dir/out" "ok: " "verify prints ok"

expect 0 "balance" -- "$fedmesh" ledger balance --ledger "$a" --json
json_is "$dir/out" '.peers | length' 2 "two peers"
peer_b=$(jq -r '.self' < <("$fedmesh" ledger balance --ledger "$b" --json))
expect 0 "balance for one peer" -- "$fedmesh" ledger balance --ledger "$a" --peer "$peer_b" --json
json_is "$dir/out" '[.balances[].peer] | unique | .[0]' "$peer_b" "--peer filters"

expect 0 "history" -- "$fedmesh" ledger history --ledger "$a" --json
json_is "$dir/out" .count "$head_a" "history lists every entry"
expect 0 "history since" -- "$fedmesh" ledger history --ledger "$a" --json --since 2026-11-18T12:00:00Z
since=$(jq -r .count "$dir/out")
if [ "$since" -gt 0 ] && [ "$since" -lt "$head_a" ]; then ok; else bad "--since filters ($since of $head_a)"; fi

# Record version 2: an opening carries the lease's terms, and every
# reader shows them.
json_is "$dir/out" '.entries[0].version' 2 "records are version 2"
json_is "$dir/out" '.entries[0].kind' opened "the first entry opens a lease"
json_is "$dir/out" '.entries[0].terms.lender_country' FR "the opening's lender country"
json_is "$dir/out" '.entries[0].terms.end_ns - .entries[0].terms.start_ns' 3600000000000 "a one-hour window"
json_is "$dir/out" '.entries[0].amounts[0].price_microeur_per_unit_hour' 40000 "a price per amount"
json_is "$dir/out" '.entries[0].terms.lender_cert_hash | length' 64 "the certificate hash in hex"
json_is "$dir/out" '.entries[0].terms.constraints.data_class' demo "the borrower's data class"
json_is "$dir/out" '[.entries[] | select(.kind != "opened") | has("terms")] | any' false "terms on openings only"
expect 0 "history (text)" -- "$fedmesh" ledger history --ledger "$a"
contains "$dir/out" " window 2026-" "history prints the window"
contains "$dir/out" "lender FR (jurisdictions EU FR; ISO27001; 52 gCO2/kWh) certificate " "history prints the lender's facts"
contains "$dir/out" "asked: data class demo" "history prints the constraints"

expect 0 "export csv" -- "$fedmesh" ledger export --ledger "$a" --format csv
contains "$dir/out" "seq,time,kind,lease_id,number,role,peer" "csv header"
contains "$dir/out" ",window_start,window_end,price_eur_per_unit_hour,lender_country,lender_certifications,data_class,lender_cert_hash" "csv terms columns"
if grep -qE ',opened,.*,vcpu_hours,,[0-9.]+,1,1,[0-9a-f]{64},2026-[0-9T:-]+Z,2026-[0-9T:-]+Z,0\.040000,FR,ISO27001,demo,[0-9a-f]{64}$' "$dir/out" &&
  grep -qE ',usage,.*,[0-9a-f]{64},,,,,,,$' "$dir/out"; then
  ok
else
  bad "csv: the opening's terms columns, empty on usage rows: $(sed -n 2p "$dir/out")"
fi
expect 0 "export jsonl" -- "$fedmesh" ledger export --ledger "$a" --format jsonl
lines=$(wc -l <"$dir/out")
if [ "$lines" -eq "$head_a" ]; then ok; else bad "jsonl: $lines lines for $head_a entries"; fi

expect 0 "reconcile agrees" -- "$fedmesh" ledger reconcile --ledger "$a" --other "$b" --peer "$peer_b" --json
json_is "$dir/out" .agree true "a and b agree"
json_is "$dir/out" '.lent_milli == .peer_borrowed_milli' true "lent equals borrowed"
# B writes on alone: the ledgers now differ.
expect 0 "append b more" -- "$testtool" ledger append --ledger "$b" --demo-seed 9 --as 1 --count 30
expect 1 "reconcile differs" -- "$fedmesh" ledger reconcile --ledger "$a" --other "$b"
contains "$dir/out" "only there" "reconcile names the side"

# Tamper: one bit of one stored entry (RocksDB rewrites it: its own
# checksums stay valid), at several entries and offsets.
for seq in 1 2 $((head_a / 2)) "$head_a"; do
  for byte in 0 40 200; do
    expect 0 "tamper $seq/$byte" -- "$testtool" ledger tamper --ledger "$a" --seq "$seq" --byte "$byte"
    expect 1 "verify after tamper $seq/$byte" -- "$fedmesh" ledger verify --ledger "$a"
    contains "$dir/err" "entry $seq (key j/$seq)" "verify names entry $seq"
    expect 0 "untamper $seq/$byte" -- "$testtool" ledger tamper --ledger "$a" --seq "$seq" --byte "$byte"
  done
done
expect 0 "verify after restoring" -- "$fedmesh" ledger verify --ledger "$a"

# The ledger path from a node config ([ledger] path, relative to the file).
mkdir -p "$dir/node"
cat >"$dir/node/node.ini" <<INI
[node]
name = fr-par-1
key_file = node.key
certificate_file = node.cert
root_public_key_file = root.pub
listen = tcp://127.0.0.1:7400

[ledger]
path = ../a
half_life_s = 3600
INI
expect 0 "verify via --config" -- "$fedmesh" ledger verify --config "$dir/node/node.ini"
expect 0 "balance via --config" -- "$fedmesh" ledger balance --config "$dir/node/node.ini" --json

finish
