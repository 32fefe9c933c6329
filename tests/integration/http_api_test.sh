#!/usr/bin/env bash
# integration.http_api: the agent's HTTP API, driven with curl.
#
# Starts two agents on 127.0.0.1 with [http] listen and a token file, and
# checks every endpoint: GET /v1/status, /v1/peers (the same view as
# `fedmesh peers --json`), /v1/ledger/balances and /v1/leases (503
# ledger_unavailable while no ledger is configured), POST /v1/load (valid,
# bad JSON, invalid fields, oversized, chunked; n2 has a ledger and
# answers them from it), POST /v1/leases, DELETE and GET /v1/leases/{id}
# (400 for bad bodies and ids, 503 without a ledger, 404 for an unknown
# lease; integration.leases borrows for real), /metrics (no token on loopback),
# and the failures every path shares: missing token, wrong token, unknown
# path (404), wrong method (405); every error is a JSON object with a
# stable code. Also: a token file readable by others is refused at start,
# SIGHUP reloads the token and logs what it reloaded, SIGTERM stops within
# the bound. Bounded waits everywhere; nothing is left running (trap).
set -u
fedmesh=${1:?usage: http_api_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin http
command -v curl >/dev/null || { bad "curl is not installed (apt-get install curl)"; finish; }
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }

free_ports 6 $((21000 + ($$ * 7) % 30000)) || { bad "found only ${#ports[@]} free ports"; finish; }
token=$(make_token n1.token)
cp -p n1.token n2.token
for i in 1 2; do
  admit_member "n$i" FR --cert SecNumCloud || { bad "identity n$i"; finish; }
  cat >"n$i.ini" <<EOF
[node]
name = n$i
key_file = n$i.key
certificate_file = n$i.cert
root_public_key_file = root.key.pub
listen = tcp://127.0.0.1:${ports[$((i - 1))]}
control = tcp://127.0.0.1:${ports[$((i + 1))]}
seeds = tcp://127.0.0.1:${ports[0]}
log_level = info

[capacity]
vcpu_total = 128
vcpu_lendable = 32
gpu.H100-80GB.total = 8
carbon_gco2_per_kwh = 44

[gossip]
probe_interval_ms = 200
probe_timeout_ms = 80
suspicion_min_ms = 400
suspicion_max_ms = 1200

[http]
listen = http://127.0.0.1:${ports[$((i + 3))]}
token_file = n$i.token
body_max = 4096
EOF
done
# n2 keeps a ledger; n1 has none.
printf '\n[ledger]\npath = n2.ledger\n' >>n2.ini
api=http://127.0.0.1:${ports[4]}

# A token file others can read is refused before anything listens.
chmod 644 n1.token
"$fedmesh" agent --config n1.ini >out 2>err
rc=$?
[ $rc -eq 4 ] && grep -q 'chmod 600' err && ok || bad "unsafe token file: exit $rc, $(cat err)"
chmod 600 n1.token
# A missing token file: exit 3, naming the file.
sed 's|^token_file = n1.token|token_file = missing.token|' n1.ini >missing.ini
"$fedmesh" agent --config missing.ini >out 2>err
rc=$?
[ $rc -eq 3 ] && grep -q 'missing.token' err && ok || bad "missing token file: exit $rc, $(cat err)"
# A listen that is not http:// is refused with the key named.
sed 's|^listen = http://|listen = https://|' n1.ini >bad.ini
"$fedmesh" agent --config bad.ini >out 2>err
[ $? -eq 3 ] && grep -q 'listen' err && ok || bad "https listen: $(cat err)"

for i in 1 2; do
  "$fedmesh" agent --config "n$i.ini" 2>"n$i.log" &
  pids+=($!)
done

# call METHOD PATH [curl args...]: prints "STATUS" and leaves the body in body.json.
call() {
  local method=$1 path=$2; shift 2
  curl -sS -m 5 -o body.json -w '%{http_code}' -X "$method" "$@" "$api$path" 2>curl.err || echo "000"
}
auth=(-H "Authorization: Bearer $token")
# expect WHAT STATUS CODE METHOD PATH [curl args]: status and error code.
expect() {
  local what=$1 status=$2 code=$3; shift 3
  local got
  got=$(call "$@")
  local got_code
  got_code=$(jq -r '.error.code // "none"' body.json 2>/dev/null || echo "not-json")
  if [ "$got" = "$status" ] && [ "$got_code" = "$code" ]; then ok; else
    bad "$what: got $got $got_code, wanted $status $code: $(head -c 300 body.json)"
  fi
}

deadline=$((SECONDS + 20))
until [ "$(call GET /v1/status "${auth[@]}")" = 200 ] &&
  [ "$(jq '.members.alive' body.json 2>/dev/null)" = 2 ]; do
  [ $SECONDS -lt $deadline ] || break
  sleep 0.2
done
[ "$(jq '.members.alive' body.json 2>/dev/null)" = 2 ] && ok || bad "status: two members alive: $(cat body.json)"
[ "$(jq -r '.name' body.json)" = n1 ] && [ "$(jq -r '.id | startswith("fm")' body.json)" = true ] &&
  [ "$(jq '.advert_sequence > 0' body.json)" = true ] && [ "$(jq '.load' body.json)" = null ] &&
  ok || bad "status fields: $(cat body.json)"

# Peers: what `fedmesh peers --json` prints, member for member.
[ "$(call GET /v1/peers "${auth[@]}")" = 200 ] && ok || bad "peers: status"
jq -S '[.members[] | {id, name, state, sequence}]' body.json >api-peers.json
"$fedmesh" peers --config n1.ini --json | jq -S '[.members[] | {id, name, state, sequence}]' >cli-peers.json
cmp -s api-peers.json cli-peers.json && ok || bad "peers differ from fedmesh peers --json"
[ "$(jq -r '.members[] | select(.name == "n2") | .resources[] | select(.class == "gpu") | .model' body.json)" = H100-80GB ] &&
  ok || bad "peers: n2's GPU"

# Authentication.
expect "no token" 401 unauthorized GET /v1/status
expect "wrong token" 401 unauthorized GET /v1/status -H "Authorization: Bearer x${token:1}"
expect "wrong scheme" 401 unauthorized GET /v1/peers -H "Authorization: Basic $token"
expect "short token" 401 unauthorized GET /v1/status -H "Authorization: Bearer ${token:0:10}"
curl -sS -m 5 -D headers.txt -o /dev/null "$api/v1/status" 2>/dev/null
grep -qi '^WWW-Authenticate: Bearer' headers.txt && ok || bad "401 without WWW-Authenticate"

# Routing.
expect "unknown path" 404 not_found GET /v1/nothing "${auth[@]}"
expect "unknown path without token" 404 not_found GET /nothing
expect "wrong method" 405 method_not_allowed DELETE /v1/status "${auth[@]}"
expect "wrong method on load" 405 method_not_allowed GET /v1/load "${auth[@]}"
curl -sS -m 5 -D headers.txt -o /dev/null -X PUT "$api/v1/leases" 2>/dev/null
grep -qi '^Allow: GET, POST' headers.txt && ok || bad "405 without Allow: $(cat headers.txt)"

# Ledger and leases: 503 while no ledger is configured; bad bodies and ids
# are 400s answered before the loop.
expect "balances" 503 ledger_unavailable GET /v1/ledger/balances "${auth[@]}"
expect "leases" 503 ledger_unavailable GET /v1/leases "${auth[@]}"
expect "lease create, no resources" 400 invalid_request POST /v1/leases "${auth[@]}" -d '{}'
expect "lease create, no ledger" 503 ledger_unavailable POST /v1/leases "${auth[@]}" \
  -d '{"resources":[{"class":"vcpu","amount":4}],"duration_s":3600}'
expect "lease delete, bad id" 400 invalid_request DELETE /v1/leases/abc-123 "${auth[@]}"
expect "lease delete, unknown" 404 not_found DELETE /v1/leases/0123456789abcdef0123456789abcdef "${auth[@]}"
expect "lease get, unknown" 404 not_found GET /v1/leases/0123456789abcdef0123456789abcdef "${auth[@]}"
expect "lease delete, escaped id" 400 invalid_request DELETE '/v1/leases/a%2Fb' "${auth[@]}"
expect "lease create, no token" 401 unauthorized POST /v1/leases -d '{}'
# n2 answers from its (empty) ledger.
api2=http://127.0.0.1:${ports[5]}
code=$(curl -sS -m 5 -o body.json -w '%{http_code}' "${auth[@]}" "$api2/v1/ledger/balances")
[ "$code" = 200 ] && [ "$(jq '.balances | length' body.json)" = 0 ] && [ "$(jq -r '.self | startswith("fm")' body.json)" = true ] &&
  ok || bad "n2 balances: $code $(cat body.json)"
code=$(curl -sS -m 5 -o body.json -w '%{http_code}' "${auth[@]}" "$api2/v1/leases")
[ "$code" = 200 ] && [ "$(jq '.count' body.json)" = 0 ] && ok || bad "n2 leases: $code $(cat body.json)"
code=$(curl -sS -m 5 -o body.json -w '%{http_code}' "${auth[@]}" "$api2/v1/status")
[ "$(jq '.ledger.open' body.json)" = true ] && [ "$(jq '.ledger.leases.open' body.json)" = 0 ] &&
  ok || bad "n2 status ledger: $(cat body.json)"
curl -sS -m 5 -o metrics2.txt "$api2/metrics"
grep -q '^fedmesh_ledger_open 1$' metrics2.txt && grep -q '^fedmesh_leases{state="open"} 0$' metrics2.txt &&
  ok || bad "n2 ledger metrics: $(grep ledger metrics2.txt)"
if command -v promtool >/dev/null; then
  promtool check metrics <metrics2.txt >promtool.out 2>&1 && ok || bad "promtool (ledger): $(cat promtool.out)"
fi

# Load reports.
json=(-H 'Content-Type: application/json')
load='{"scheduler":"slurm-n1","resources":[{"class":"vcpu","queued":120,"running":96},{"class":"gpu","model":"H100-80GB","queued":4,"running":8}]}'
[ "$(call POST /v1/load "${auth[@]}" "${json[@]}" -d "$load")" = 200 ] &&
  [ "$(jq '.accepted' body.json)" = true ] && ok || bad "load: $(cat body.json)"
call GET /v1/status "${auth[@]}" >/dev/null
[ "$(jq '.load.resources[0].queued' body.json)" = 120 ] && [ "$(jq -r '.load.scheduler' body.json)" = slurm-n1 ] &&
  ok || bad "status does not show the load: $(cat body.json)"
expect "load, no token" 401 unauthorized POST /v1/load "${json[@]}" -d "$load"
expect "load, bad JSON" 400 bad_json POST /v1/load "${auth[@]}" "${json[@]}" -d '{"resources": [1,'
jq -r '.error.message' body.json | grep -q 'line 1' && ok || bad "bad JSON reason: $(cat body.json)"
expect "load, empty body" 400 bad_json POST /v1/load "${auth[@]}" "${json[@]}" -d ''
expect "load, not an object" 400 invalid_request POST /v1/load "${auth[@]}" -d '[1,2]'
expect "load, unknown key" 400 invalid_request POST /v1/load "${auth[@]}" -d '{"resources":[{"class":"vcpu","queued":1,"running":1}],"x":1}'
expect "load, unknown class" 400 invalid_request POST /v1/load "${auth[@]}" -d '{"resources":[{"class":"tpu","queued":1,"running":1}]}'
expect "load, negative" 400 invalid_request POST /v1/load "${auth[@]}" -d '{"resources":[{"class":"vcpu","queued":-1,"running":1}]}'
expect "load, gpu without model" 400 invalid_request POST /v1/load "${auth[@]}" -d '{"resources":[{"class":"gpu","queued":1,"running":1}]}'
expect "load, duplicate key" 400 bad_json POST /v1/load "${auth[@]}" -d '{"resources":[],"resources":[]}'
head -c 5000 /dev/zero | tr '\0' ' ' >big.json
expect "load, oversized" 413 body_too_large POST /v1/load "${auth[@]}" "${json[@]}" --data-binary @big.json
expect "load, chunked" 411 length_required POST /v1/load "${auth[@]}" -H 'Transfer-Encoding: chunked' -d "$load"

# Metrics: no token on loopback, Prometheus text.
[ "$(call GET /metrics)" = 200 ] && ok || bad "metrics: status"
grep -q '^fedmesh_members{state="alive"} 2$' body.json && ok || bad "metrics: members"
grep -q '^fedmesh_load_queued{class="vcpu",model=""} 120$' body.json && ok || bad "metrics: load"
grep -q '^fedmesh_http_responses_total{code="401"} [1-9]' body.json && ok || bad "metrics: 401 count"
if command -v promtool >/dev/null; then
  promtool check metrics <body.json >promtool.out 2>&1 && ok || bad "promtool: $(cat promtool.out)"
fi

# The agent stays healthy after all that.
[ "$(call GET /v1/status "${auth[@]}")" = 200 ] && ok || bad "status after the errors"

# SIGHUP: a new token is taken, the old one refused, the new capacity is
# published (n2 sees it); the log says what was reloaded.
token2=$(make_token n1.token)
sed -i 's/^vcpu_total = 128$/vcpu_total = 256/' n1.ini
kill -HUP "${pids[0]}"
deadline=$((SECONDS + 5))
until grep -q 'event=reloaded' n1.log; do [ $SECONDS -lt $deadline ] || break; sleep 0.1; done
grep -q 'event=reloaded .*log_level=info .*token=reloaded capacity=republished' n1.log &&
  ok || bad "reload log: $(grep reload n1.log)"
deadline=$((SECONDS + 5))
until [ "$(curl -sS -m 2 "${auth[@]}" "$api2/v1/peers" | jq '.members[] | select(.name == "n1") | .resources[] | select(.class == "vcpu") | .total')" = 256 ]; do
  [ $SECONDS -lt $deadline ] || break
  sleep 0.2
done
[ $SECONDS -lt $deadline ] && ok || bad "n2 does not see n1's new capacity"
# A config that no longer parses: logged, nothing changes.
printf 'frobnicate = 1\n' >>n1.ini
kill -HUP "${pids[0]}"
deadline=$((SECONDS + 5))
until grep -q 'event=reload_failed' n1.log; do [ $SECONDS -lt $deadline ] || break; sleep 0.1; done
grep -q 'event=reload_failed .*frobnicate' n1.log && ok || bad "bad reload not logged: $(grep reload n1.log)"
expect "old token after reload" 401 unauthorized GET /v1/status "${auth[@]}"
[ "$(call GET /v1/status -H "Authorization: Bearer $token2")" = 200 ] && ok || bad "new token refused"

# SIGTERM: both exit 0 well within the bound.
for i in 0 1; do
  t0=$(date +%s%N)
  kill -TERM "${pids[$i]}"
  (sleep 6; kill -KILL "${pids[$i]}" 2>/dev/null) &
  watchdog=$!
  wait "${pids[$i]}"
  rc=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ $rc -eq 0 ] && [ $ms -lt 5000 ] && ok || bad "n$((i + 1)) stop: exit $rc after $ms ms"
done
grep -q 'component=http event=stopped' n1.log && ok || bad "no http stop in the log"
grep -q 'component=ledger event=flushed .*result=OK' n2.log && ok || bad "n2 did not flush its ledger: $(grep ledger n2.log)"
if [ "$failed" -ne 0 ]; then
  for i in 1 2; do echo "--- n$i.log (last lines)"; tail -n 12 "$dir/n$i.log"; done
fi
finish
