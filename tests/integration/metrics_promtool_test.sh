#!/usr/bin/env bash
# integration.metrics_promtool: GET /metrics passes `promtool check
# metrics` (Prometheus's own linter: format, HELP/TYPE, counter names,
# units) and holds the families the README promises.
#
# promtool comes from Debian's `prometheus` package; when it is missing
# the test installs it (apt-get update first, as root or through sudo, as
# scripts/lib.sh does). Only if that is impossible does it skip, loudly,
# with the reason, and exit 77 (ctest reports the test as skipped).
set -u
fedmesh=${1:?usage: metrics_promtool_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin metrics
skip() {
  printf '\n*** SKIPPED integration.metrics_promtool: %s ***\n\n' "$*"
  exit 77
}

if ! command -v promtool >/dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || skip "promtool is missing and this user cannot install packages (apt-get install prometheus)"
    sudo="sudo -n"
  fi
  echo "installing Debian package prometheus (for promtool)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
    skip "apt-get install prometheus failed (offline?); install it and run again"
  command -v promtool >/dev/null || skip "the prometheus package installed no promtool"
fi
command -v curl >/dev/null || { echo "FAIL: curl is not installed"; exit 1; }

free_ports 3 $((24000 + ($$ * 3) % 30000)) || { echo "FAIL: no free ports"; exit 1; }
admit_member n1 DE || { echo "FAIL: identity"; exit 1; }
token=$(make_token n1.token)
cat >n1.ini <<EOF
[node]
name = n1
key_file = n1.key
certificate_file = n1.cert
root_public_key_file = root.key.pub
listen = tcp://127.0.0.1:${ports[0]}
control = tcp://127.0.0.1:${ports[1]}
[capacity]
vcpu_total = 64
[http]
listen = http://127.0.0.1:${ports[2]}
token_file = n1.token
EOF
"$fedmesh" agent --config n1.ini 2>n1.log &
pid=$!
pids+=("$pid")
api=http://127.0.0.1:${ports[2]}
for _ in $(seq 1 50); do
  curl -sf -m 2 -o /dev/null "$api/metrics" && break
  sleep 0.1
done
curl -sf -m 5 -X POST -H "Authorization: Bearer $token" \
  -d '{"resources":[{"class":"vcpu","queued":3,"running":60},{"class":"gpu","model":"A100","queued":1,"running":2}]}' \
  "$api/v1/load" >/dev/null || { echo "FAIL: load report"; cat n1.log; exit 1; }
sleep 0.5 # a few gossip ticks for the histogram
curl -sf -m 5 -o metrics.txt "$api/metrics" || { echo "FAIL: GET /metrics"; cat n1.log; exit 1; }

failed=0
if promtool check metrics <metrics.txt >promtool.out 2>&1; then
  echo "promtool check metrics: ok ($(grep -c '^# TYPE' metrics.txt) families)"
else
  echo "FAIL: promtool check metrics:"; cat promtool.out; failed=1
fi
for family in fedmesh_members fedmesh_gossip_adverts_received_total fedmesh_gossip_adverts_sent_total \
  fedmesh_gossip_rejected_total fedmesh_gossip_received_bytes_total fedmesh_gossip_sent_bytes_total \
  fedmesh_gossip_round_duration_seconds fedmesh_load_reports_total fedmesh_load_queued \
  fedmesh_load_running fedmesh_http_responses_total fedmesh_ledger_open; do
  grep -q "^# TYPE $family " metrics.txt || { echo "FAIL: no $family"; failed=1; }
done
grep -q '^fedmesh_load_running{class="gpu",model="A100"} 2$' metrics.txt || { echo "FAIL: load series"; failed=1; }
grep -q '^fedmesh_gossip_rejected_total{reason="bad_signature"} 0$' metrics.txt || { echo "FAIL: reasons"; failed=1; }
grep -q '^fedmesh_gossip_round_duration_seconds_count{call="tick"} [1-9]' metrics.txt || { echo "FAIL: no tick observed"; failed=1; }
kill -TERM "$pid"
wait "$pid"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: agent exit $rc"; failed=1; }
[ $failed -eq 0 ] && echo "metrics: ok" || { echo "--- metrics.txt"; head -60 metrics.txt; }
exit $failed
