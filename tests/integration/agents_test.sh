#!/usr/bin/env bash
# integration.agents: five real agents on 127.0.0.1 gossip over NNG.
#
# Founds a federation with the CLI, admits five members, starts five
# `fedmesh agent` processes with a 200 ms probe interval, and checks
# through `fedmesh peers` that: every agent sees five alive members; a
# member killed with SIGKILL is seen down by the four others; a member
# stopped with SIGTERM exits 0 within 3 s and is seen left by the others;
# the rest exit 0 on SIGTERM; nothing is left running. Bounded waits
# everywhere; the whole test takes about 15 s.
set -u
fedmesh=${1:?usage: agents_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin agents
# Ten free ports (five gossip, five control) from a range picked by our
# pid, so that parallel test runs do not collide.
start=$((20000 + ($$ * 10) % 40000))
free_ports 10 "$start" || { bad "found only ${#ports[@]} free ports from $start"; finish; }
n=5
countries=(FR DE NL ES IT)
"$fedmesh" federation init --out root.key >/dev/null || { bad "federation init"; finish; }
for i in $(seq 1 $n); do
  "$fedmesh" keygen --out "n$i.key" >/dev/null &&
    "$fedmesh" federation admit --root root.key --pubkey "n$i.key.pub" --name "n$i" \
      --country "${countries[$((i - 1))]}" --cert ISO27001 --out "n$i.cert" >/dev/null ||
    { bad "keys and certificate for n$i"; finish; }
  mkdir -p "conf$i"
  # Paths relative to the config's directory.
  cat >"conf$i/node.ini" <<EOF
[node]
name = n$i
key_file = ../n$i.key
certificate_file = ../n$i.cert
root_public_key_file = ../root.key.pub
listen = tcp://127.0.0.1:${ports[$((i - 1))]}
control = tcp://127.0.0.1:${ports[$((i + 4))]}
seeds = tcp://127.0.0.1:${ports[0]}, tcp://127.0.0.1:${ports[1]}
log_level = info

[capacity]
vcpu_total = $((64 * i))
vcpu_lendable = $((16 * i))
memory_gib_total = 512
gpu.H100-80GB.total = 8
gpu.H100-80GB.lendable = 2
carbon_gco2_per_kwh = $((50 * i))

[gossip]
probe_interval_ms = 200
probe_timeout_ms = 80
suspicion_min_ms = 400
suspicion_max_ms = 1200
EOF
done

# A bad config is refused with file:line before anything starts.
printf '[node]\nname = n1\nfrobnicate = 1\n' >bad.ini
"$fedmesh" agent --config bad.ini >out 2>err
rc=$?
[ $rc -eq 3 ] && ok || bad "bad config: exit $rc, wanted 3"
grep -qF "bad.ini:3: unknown key 'frobnicate'" err && ok || bad "bad config message: $(cat err)"

for i in $(seq 1 $n); do
  "$fedmesh" agent --config "conf$i/node.ini" 2>"n$i.log" &
  pids+=($!)
done

# state_of VIEWER NAME: NAME's state in VIEWER's table ("" when absent).
state_of() { "$fedmesh" peers --config "conf$1/node.ini" 2>/dev/null | awk -v n="$2" '$1 == n { print $4 }'; }
alive_count() { "$fedmesh" peers --config "conf$1/node.ini" 2>/dev/null | awk '$4 == "alive"' | wc -l; }

# wait_until SECONDS DESCRIPTION -- COMMAND...: polls every 200 ms.
wait_until() {
  local seconds=$1 what=$2; shift 3
  local deadline=$((SECONDS + seconds))
  while [ $SECONDS -lt $deadline ]; do
    if "$@"; then ok; return 0; fi
    sleep 0.2
  done
  bad "$what (not within ${seconds} s)"
  return 1
}

all_see_alive() {
  local i
  for i in $(seq 1 $n); do
    [ "$(alive_count "$i")" -eq $n ] || return 1
  done
}
t0=$SECONDS
wait_until 20 "every agent sees $n members alive" -- all_see_alive
echo "converged in $((SECONDS - t0)) s"

# The JSON view: five members, sorted by id, with resources.
"$fedmesh" peers --config conf3/node.ini --json >view.json
if command -v jq >/dev/null; then
  [ "$(jq '.members | length' view.json)" = 5 ] && ok || bad "json: $(head -c 300 view.json)"
  [ "$(jq '[.members[] | select(.self)] | length' view.json)" = 1 ] && ok || bad "json: self flag"
  [ "$(jq -r '.members[] | select(.name == "n2") | .resources[] | select(.class == "gpu") | .model' view.json)" = H100-80GB ] &&
    ok || bad "json: n2's GPU missing"
  [ "$(jq -r '.members[] | select(.name == "n4") | .carbon_gco2_per_kwh' view.json)" = 200 ] &&
    ok || bad "json: n4's carbon"
else
  grep -qF '"name":"n5"' view.json && ok || bad "json: $(head -c 300 view.json)"
fi
"$fedmesh" peers --config conf1/node.ini --stats >stats.json && grep -qF '"frames_in"' stats.json &&
  ok || bad "stats: $(head -c 300 stats.json)"
# Probes travel as UDP datagrams (udp_probes defaults to 1), both ways.
udp_sent=$(grep -o '"udp_sent":[0-9]*' stats.json | cut -d: -f2)
udp_received=$(grep -o '"udp_received":[0-9]*' stats.json | cut -d: -f2)
[ "${udp_sent:-0}" -gt 0 ] && [ "${udp_received:-0}" -gt 0 ] && ok ||
  bad "no probes by UDP: sent=${udp_sent:-none} received=${udp_received:-none}"
# Hostile datagrams: garbage is refused as malformed, an oversize one is
# dropped at the socket; both are counted, and n1 carries on.
malformed_before=$(grep -o '"malformed":[0-9]*' stats.json | head -1 | cut -d: -f2)
printf 'not a fedmesh frame' >"/dev/udp/127.0.0.1/${ports[0]}"
head -c 1500 /dev/zero >"/dev/udp/127.0.0.1/${ports[0]}"
sleep 0.5
"$fedmesh" peers --config conf1/node.ini --stats >stats2.json
malformed_after=$(grep -o '"malformed":[0-9]*' stats2.json | head -1 | cut -d: -f2)
[ "${malformed_after:-0}" -gt "${malformed_before:-0}" ] && ok ||
  bad "garbage datagram not counted as malformed: ${malformed_before:-none} -> ${malformed_after:-none}"
[ "$(grep -o '"udp_oversize":[0-9]*' stats2.json | cut -d: -f2)" = 1 ] && ok ||
  bad "oversize datagram not counted: $(grep -o '"udp_oversize":[0-9]*' stats2.json)"

# SIGKILL n5: the four others declare it down.
kill -KILL "${pids[4]}"
{ wait "${pids[4]}"; } 2>/dev/null
others_see() { # others_see NAME STATE VIEWERS...
  local name=$1 state=$2 i; shift 2
  for i in "$@"; do
    [ "$(state_of "$i" "$name")" = "$state" ] || return 1
  done
}
t0=$SECONDS
wait_until 20 "n1..n4 see n5 down" -- others_see n5 down 1 2 3 4
echo "n5 down everywhere in $((SECONDS - t0)) s"
grep -q 'event=member_state .*name=n5 state=down' n1.log && ok || bad "n1 did not log n5 down"

# stop_within PID SECONDS NAME: SIGTERM, then exit 0 within SECONDS.
stop_within() {
  local pid=$1 seconds=$2 name=$3
  local started
  started=$(date +%s%N)
  if ! kill -TERM "$pid" 2>/dev/null; then
    bad "$name was no longer running before SIGTERM (see $name.log)"
    return
  fi
  (sleep "$seconds"; kill -KILL "$pid" 2>/dev/null) &
  local watchdog=$!
  wait "$pid"
  local rc=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  local ms=$((($(date +%s%N) - started) / 1000000))
  echo "$name stopped in $ms ms (exit $rc)"
  if [ $rc -eq 0 ] && [ $ms -lt $((seconds * 1000)) ]; then ok; else bad "$name: exit $rc after $ms ms"; fi
}

# SIGTERM n4: exits 0 in time, and the others see it leave.
stop_within "${pids[3]}" 3 n4
wait_until 5 "n1..n3 see n4 left" -- others_see n4 left 1 2 3
for i in 1 2 3; do
  stop_within "${pids[$((i - 1))]}" 3 "n$i"
done

leftover=0
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null && leftover=$((leftover + 1))
done
[ $leftover -eq 0 ] && ok || bad "$leftover agents still running"
if [ "$failed" -ne 0 ]; then
  for i in $(seq 1 $n); do echo "--- n$i.log (last lines)"; tail -n 8 "$dir/n$i.log"; done
fi
finish
