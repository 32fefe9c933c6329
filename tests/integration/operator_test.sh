#!/usr/bin/env bash
# integration.operator: what a new operator's walkthrough found (issue #11,
# item 12), each held by a check on real agents on 127.0.0.1:
#   - every counter of `fedmesh peers --stats` is in /metrics (the two lists
#     compared key by key, with a negative case: a metric removed from the
#     page must be reported), and an oversize UDP datagram shows in both;
#   - two agents of one name on one host, each from its own directory and
#     with the default control endpoint, both start and each `peers
#     --config` reaches its own agent;
#   - an unreachable seed is warned about and counted (peers --stats and
#     /metrics), once per seed per rejoin interval;
#   - member_join logs the member's real advert sequence, not 0;
#   - the node's own state_age_s is the age of its state (at most the
#     agent's uptime), not the host's uptime;
#   - SIGHUP's restart_needed_for lists only the keys that changed;
#   - a secret key of mode 0644 exits 4, a gossip or HTTP port in use
#     exits 6 (README, exit codes), each with a message naming the fix.
set -u
fedmesh=${1:?usage: operator_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin operator
command -v jq >/dev/null || { echo "FAIL: jq is not installed (scripts/lib.sh installs it)"; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is not installed"; exit 1; }

free_ports 8 $((14000 + ($$ * 7) % 30000)) || { echo "FAIL: no free ports"; exit 1; }
"$fedmesh" federation init --out root.key >/dev/null || exit 1
# member DIR NAME: DIR/NAME.key, DIR/NAME.cert and DIR/root.key.pub.
member() {
  mkdir -p "$1" && cp root.key.pub "$1/" &&
    "$fedmesh" keygen --out "$1/$2.key" >/dev/null &&
    "$fedmesh" federation admit --root root.key --pubkey "$1/$2.key.pub" --name "$2" \
      --country FR --out "$1/$2.cert" >/dev/null
}
member A n1 && member B n1 && member C n2 && member K n3 || { echo "FAIL: identities"; exit 1; }
# agent_ini NAME LISTEN_PORT [EXTRA LINES...]: a config without control
# (the default endpoint), quick gossip timings.
agent_ini() {
  local name=$1 port=$2
  shift 2
  printf '[node]\nname = %s\nkey_file = %s.key\ncertificate_file = %s.cert\n' "$name" "$name" "$name"
  printf 'root_public_key_file = root.key.pub\nlisten = tcp://127.0.0.1:%s\n' "$port"
  printf '%s\n' "$@"
  printf '[capacity]\nvcpu_total = 8\n[gossip]\nprobe_interval_ms = 200\nprobe_timeout_ms = 80\n'
  printf 'suspicion_min_ms = 400\nsuspicion_max_ms = 1200\nrejoin_interval_s = 1\n'
}
agent_ini n1 "${ports[0]}" >A/n1.ini
token=$(make_token B/token)
# B: n1 again, in another directory, with an unreachable seed and the API.
agent_ini n1 "${ports[1]}" "seeds = tcp://127.0.0.1:${ports[3]}" >B/n1.ini
printf '[http]\nlisten = http://127.0.0.1:%s\ntoken_file = token\n' "${ports[2]}" >>B/n1.ini
agent_ini n2 "${ports[4]}" "seeds = tcp://127.0.0.1:${ports[0]}" >C/n2.ini

"$fedmesh" agent --config A/n1.ini 2>A.log &
pids+=($!)
a_pid=$!
"$fedmesh" agent --config B/n1.ini 2>B.log &
pids+=($!)
b_pid=$!
"$fedmesh" agent --config C/n2.ini 2>C.log &
pids+=($!)
c_pid=$!
api=http://127.0.0.1:${ports[2]}

# --- two agents of one name, one host, default control endpoints
peers_self() { "$fedmesh" peers --config "$1" --json 2>/dev/null | jq -r .self; }
wait_until 10 test -n "$(peers_self A/n1.ini)" && wait_until 10 test -n "$(peers_self B/n1.ini)"
a_self=$(peers_self A/n1.ini)
b_self=$(peers_self B/n1.ini)
if [ -n "$a_self" ] && [ -n "$b_self" ] && [ "$a_self" != "$b_self" ]; then ok; else
  bad "two agents named n1: peers reached '$a_self' and '$b_self' (A.log: $(grep -m1 -E 'listen_failed|error' A.log) B.log: $(grep -m1 -E 'listen_failed|error' B.log))"
fi
a_control=$(grep -o 'control=[^ ]*' A.log | head -1)
b_control=$(grep -o 'control=[^ ]*' B.log | head -1)
case "$a_control" in
  control=ipc:///tmp/fedmesh-n1-*.ctl) [ "$a_control" != "$b_control" ] && ok || bad "one control for both: $a_control" ;;
  *) bad "default control: '$a_control'" ;;
esac

# --- the unreachable seed: warned once per rejoin interval, and counted
wait_until 10 grep -q 'seed_unreachable' B.log && ok || bad "no seed_unreachable warning in B.log"
contains B.log "seed=tcp://127.0.0.1:${ports[3]}" "the warning names the seed"
grep 'seed_unreachable' B.log | grep -q 'level=warn' && ok || bad "seed_unreachable is not a warning: $(grep -m1 seed_unreachable B.log)"

# --- peers --stats against /metrics
printf '%*s' 1500 '' | tr ' ' x >/dev/udp/127.0.0.1/"${ports[1]}" # one oversize probe datagram
sleep 0.5
"$fedmesh" peers --config B/n1.ini --stats >stats.json 2>stats.err || bad "peers --stats: $(cat stats.err)"
warned=$(grep -c 'seed_unreachable' B.log)
curl -sf -m 5 -o metrics.txt "$api/metrics" || bad "GET /metrics"
# stats_missing STATS METRICS: prints each counter of STATS that has no
# family in METRICS. A counter section.key is found as, in order: a name
# in the table below (kept from before the rule), fedmesh_SECTION_KEY_total,
# fedmesh_KEY_total, fedmesh_SECTION_KEY, fedmesh_KEY; an object of counters
# (rejections by reason) as one labelled series per reason.
stats_missing() {
  local stats=$1 metrics=$2 section key name found candidate
  declare -A named=(
    [gossip.frames_in]=fedmesh_gossip_frames_received_total
    [gossip.frames_out]=fedmesh_gossip_frames_sent_total
    [gossip.bytes_in]=fedmesh_gossip_received_bytes_total
    [gossip.bytes_out]=fedmesh_gossip_sent_bytes_total
    [gossip.adverts_in]=fedmesh_gossip_adverts_received_total
    [gossip.adverts_out]=fedmesh_gossip_adverts_sent_total
    [gossip.probes_sent]=fedmesh_gossip_probes_total
    [gossip.members]=fedmesh_members
    [agent.uptime_s]=fedmesh_uptime_seconds
  )
  while read -r section key; do
    if [ "$key" = rejected ]; then
      jq -r ".$section.rejected | keys[]" "$stats" | while read -r reason; do
        grep -q "^fedmesh_${section}_rejected_total{reason=\"$reason\"} " "$metrics" ||
          echo "$section.rejected.$reason"
      done
      continue
    fi
    if [ "$(jq -r ".$section.$key | type" "$stats")" = object ]; then
      # Counters by kind (hooks.granted.runs): one labelled series each.
      jq -r ".$section.$key | keys[]" "$stats" | while read -r field; do
        grep -qE "^fedmesh_(${section%s}|${section})_${field}_total\{kind=\"$key\"\} " "$metrics" ||
          echo "$section.$key.$field"
      done
      continue
    fi
    found=""
    for candidate in "${named[$section.$key]:-}" "fedmesh_${section}_${key}_total" \
      "fedmesh_${key}_total" "fedmesh_${section}_${key}" "fedmesh_${key}"; do
      [ -n "$candidate" ] && grep -q "^# TYPE $candidate " "$metrics" && { found=$candidate; break; }
    done
    [ -n "$found" ] || echo "$section.$key"
  done < <(jq -r 'to_entries[] | select(.value | type == "object") | .key as $s | .value | keys[] | "\($s) \(.)"' "$stats")
}
missing=$(stats_missing stats.json metrics.txt)
count=$(jq '[to_entries[] | select(.value | type == "object") | .value | keys[]] | length' stats.json)
if [ -z "$missing" ] && [ "${count:-0}" -ge 30 ]; then ok; else
  bad "counters of peers --stats missing from /metrics (of ${count:-0}): $missing"
fi
# The comparison can fail: a page without the UDP counter is caught.
grep -v 'fedmesh_transport_udp_sent_total' metrics.txt >metrics_cut.txt
[ "$(stats_missing stats.json metrics_cut.txt)" = "transport.udp_sent" ] && ok ||
  bad "negative case: removing fedmesh_transport_udp_sent_total reported '$(stats_missing stats.json metrics_cut.txt)'"
[ "$(jq .transport.udp_oversize stats.json)" = 1 ] && ok || bad "stats udp_oversize: $(jq .transport.udp_oversize stats.json)"
grep -q '^fedmesh_transport_udp_oversize_total 1$' metrics.txt && ok ||
  bad "metrics udp_oversize: $(grep '^fedmesh_transport_udp_oversize' metrics.txt)"
unreached=$(jq .agent.seeds_unreachable stats.json)
[ "${unreached:-0}" -ge 1 ] && ok || bad "stats seeds_unreachable: $unreached"
grep -qE '^fedmesh_seeds_unreachable_total [1-9]' metrics.txt && ok ||
  bad "metrics seeds_unreachable: $(grep '^fedmesh_seeds_unreachable' metrics.txt)"
uptime=$(jq .agent.uptime_s stats.json)
# Once per rejoin interval (1 s) from 1 s after the start: at most one line
# per whole second of uptime (one more for a line logged between the
# stats and the count), and as many lines as the counter says.
[ "$warned" -le $(($(printf '%.0f' "$uptime") + 1)) ] && ok || bad "$warned warnings in ${uptime}s: not rate-limited"
[ "$warned" -ge "${unreached:-0}" ] && [ "$warned" -le $((${unreached:-0} + 1)) ] && ok ||
  bad "$warned warning lines, counter ${unreached:-none}"

# --- member_join carries the real sequence; self's state_age_s
wait_until 10 grep -q 'member_join.*name=n2' A.log && ok || bad "A never logged n2's join"
join_line=$(grep -m1 'member_join.*name=n2' A.log)
case "$join_line" in
  *sequence=0*|"") bad "member_join without the sequence: $join_line" ;;
  *sequence=[1-9]*) ok ;;
  *) bad "member_join: $join_line" ;;
esac
"$fedmesh" peers --config A/n1.ini --json >a_peers.json 2>/dev/null
"$fedmesh" peers --config A/n1.ini --stats >a_stats.json 2>/dev/null
self_age=$(jq '.members[] | select(.self) | .state_age_s' a_peers.json)
a_uptime=$(jq .agent.uptime_s a_stats.json)
if [ -n "$self_age" ] && [ -n "$a_uptime" ] &&
  awk -v s="$self_age" -v u="$a_uptime" 'BEGIN { exit !(s >= 0 && s <= u + 0.5) }'; then ok; else
  bad "own state_age_s $self_age is not within the agent's uptime $a_uptime (host: $(cut -d' ' -f1 /proc/uptime) s)"
fi

# --- SIGHUP: restart_needed_for lists what changed, and only that
reloaded() { [ "$(grep -c 'event=reloaded' A.log)" -ge "$1" ]; }
sed -i 's/^listen = .*/&\nlog_level = debug/' A/n1.ini
kill -HUP "$a_pid"
wait_until 5 reloaded 1 || bad "no reload 1"
grep 'event=reloaded' A.log | sed -n 1p | grep -q 'restart_needed_for="none"' && ok ||
  bad "a log level change needs no restart: $(grep 'event=reloaded' A.log | sed -n 1p)"
sed -i 's/^probe_interval_ms = 200/probe_interval_ms = 300/' A/n1.ini
kill -HUP "$a_pid"
wait_until 5 reloaded 2 || bad "no reload 2"
grep 'event=reloaded' A.log | sed -n 2p | grep -q 'restart_needed_for="gossip.probe_interval_ms"' && ok ||
  bad "one timing changed: $(grep 'event=reloaded' A.log | sed -n 2p)"
sed -i "s|^listen = .*|&\nseeds = tcp://127.0.0.1:${ports[4]}|" A/n1.ini
kill -HUP "$a_pid"
wait_until 5 reloaded 3 || bad "no reload 3"
grep 'event=reloaded' A.log | sed -n 3p | grep -q 'restart_needed_for="node.seeds gossip.probe_interval_ms"' && ok ||
  bad "seeds and the timing: $(grep 'event=reloaded' A.log | sed -n 3p)"

# --- exit codes: a key readable by others (4), ports in use (6)
agent_ini n3 "${ports[5]}" >K/n3.ini
chmod 644 K/n3.key
expect 4 "a 0644 key" -- "$fedmesh" agent --config K/n3.ini
contains err "chmod 600" "the 0644 key message"
chmod 600 K/n3.key
agent_ini n3 "${ports[0]}" >K/n3.ini # A's gossip port
expect 6 "gossip port in use" -- timeout 10 "$fedmesh" agent --config K/n3.ini
contains err "address in use" "the port-in-use message"
contains err "Address in use" "the log line naming the cause"
agent_ini n3 "${ports[5]}" >K/n3.ini
printf '[http]\nlisten = http://127.0.0.1:%s\ntoken_file = token\n' "${ports[2]}" >>K/n3.ini
cp B/token K/token
expect 6 "HTTP port in use" -- timeout 10 "$fedmesh" agent --config K/n3.ini
contains err "[http] listen" "the HTTP port-in-use message"

# SIGTERM, so that each agent removes its ipc control socket from /tmp.
kill -TERM "$a_pid" "$b_pid" "$c_pid"
wait "$a_pid" || bad "agent A exit $?"
wait "$b_pid" || bad "agent B exit $?"
wait "$c_pid" || bad "agent C exit $?"
finish
