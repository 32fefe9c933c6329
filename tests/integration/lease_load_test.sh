#!/usr/bin/env bash
# integration.lease_load: the load test in small. tests/bench/lease_load/
# lease_load starts ten agents and drives them with fedmesh-lease-load at
# 1,000 borrows per second for 30 s (LEASE_LOAD_SECONDS; the long run is
# `tests/bench/lease_load/lease_load --seconds 300`). Behaviour only, never
# a speed: every answer is a lease or a refusal that names its reason (no
# HTTP error, no transport error, no answer missing at the end), every
# agent's RSS at the end is within 64 MiB of its RSS after the warm-up (one
# RocksDB write buffer, which the ledger legitimately fills between
# flushes), the leases all settle once the load stops, the agents stop
# cleanly on SIGTERM, every ledger verifies and every pair reconciles.
# How many requests were sent or granted, and how fast, is printed, not
# checked: on a loaded CI machine it says nothing.
set -u
fedmesh=${1:?usage: lease_load_test.sh PATH_TO_FEDMESH}
build=$(dirname "$(realpath "$fedmesh")")
. "$(dirname "$0")/lib.sh"
test_begin lease_load
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }
[ -x "$build/fedmesh-lease-load" ] || { bad "no $build/fedmesh-lease-load (cmake --build)"; finish; }
seconds=${LEASE_LOAD_SECONDS:-30}

expect 0 "the load run" -- "$(dirname "$0")/../bench/lease_load/lease_load" --build "$build" --seconds "$seconds"
[ "$failed" = 0 ] || finish
cp out load.json
jq -e '.bench == "lease_load"' load.json >/dev/null && ok || { bad "no JSON: $(head -c 300 load.json)"; finish; }
cat load.json
for field in requests_due requests_sent granted partial refused refused_by_reason refused_without_reason \
  errors errors_by_kind unanswered not_sent lease_latency_p50_us lease_latency_p99_us \
  lease_latency_max_us achieved_rate_per_s agents settled_after_s ledgers_verified ledger_pairs_agree; do
  jq -e --arg f "$field" 'has($f)' load.json >/dev/null && ok || bad "no field $field"
done
n=$(jq '.agents | length' load.json)
[ "$n" = 10 ] && ok || bad "10 agents measured, not $n"
[ "$(jq '.requests_sent' load.json)" -gt 0 ] && [ "$(jq '.granted + .partial' load.json)" -gt 0 ] &&
  ok || bad "nothing sent or granted"
[ "$(jq '.errors' load.json)" = 0 ] && ok || bad "errors: $(jq -c .errors_by_kind load.json)"
[ "$(jq '.refused_without_reason' load.json)" = 0 ] && ok || bad "refusals without a reason"
[ "$(jq '.unanswered' load.json)" = 0 ] && ok || bad "requests left without an answer"
[ "$(jq '[.refused_by_reason[]] | add // 0' load.json)" = "$(jq '.refused' load.json)" ] &&
  ok || bad "refusals by reason do not add up to the refusals"
over=$(jq '[.agents[] | select(.rss_kib_start <= 0 or .rss_kib_end > .rss_kib_start + 65536)] | length' load.json)
if [ -n "${MESH_TEST_SANITIZER:-}" ]; then
  echo "NOT CHECKED under $MESH_TEST_SANITIZER: RSS (sanitizer memory overhead): $(jq -c '.agents' load.json)" >&2
else
  [ "$over" = 0 ] && ok || bad "RSS grew by more than 64 MiB: $(jq -c '.agents' load.json)"
fi
[ "$(jq '.settled_after_s' load.json)" -ge 0 ] && ok || bad "leases still open 60 s after the load"
[ "$(jq '.agents_stopped_cleanly' load.json)" = 10 ] && ok || bad "agents did not stop cleanly"
[ "$(jq '.ledgers_verified' load.json)" = 10 ] && ok || bad "ledgers verified: $(jq .ledgers_verified load.json)"
[ "$(jq '.ledger_pairs_agree' load.json)" = "$(jq '.ledger_pairs' load.json)" ] &&
  ok || bad "ledger pairs agreeing: $(jq .ledger_pairs_agree load.json) of $(jq .ledger_pairs load.json)"
finish
