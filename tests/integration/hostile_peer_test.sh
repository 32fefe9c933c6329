#!/usr/bin/env bash
# tests/integration/hostile_peer_test.sh (ctest integration.hostile_peer):
# a hostile peer over the real network (issue #11 item 6). Three legitimate
# agents (a, b, c) converge and keep borrowing from a; fedmesh-hostile
# (tests/tools/hostile_peer.c) floods a for HOSTILE_SECONDS (default 30)
# at HOSTILE_RATE frames/s over TCP (default 1000, about a fifth of what
# one agent refuses per second here) and HOSTILE_UDP_RATE datagrams/s over
# UDP (default 150): forged, replayed, expired, revoked,
# oversize, truncated and random frames, lease messages included (forged
# requests, ends and refusals for lease ids a never saw, a replayed
# request, expired requests, truncated ones), 60 KB pushes in b's name
# (spoofed: they must not spend b's rate budget at a), and forged,
# oversize and random probes by UDP.
#
# Checks: every bad frame is refused and counted under its reason (a's
# counters from `peers --stats` and /metrics, before and after: the
# increase of each reason covers what was sent of the kinds it answers,
# less what a's receive queue dropped, which is counted too); a's RSS at
# the end is within RSS_GROWTH_KIB_MAX of its RSS after a warm-up third of
# the flood; no agent exits; a, b and c never see each other down or left
# (sampled every second; suspicions are counted and printed); every
# borrow from a made during the flood is granted. Prints {"kinds": {KIND: {"sent", "refused"}}, ...} as JSON.
#
# Usage: hostile_peer_test.sh FEDMESH (fedmesh-hostile is found beside it).
set -u
fedmesh=$(realpath "$1")
hostile=$(dirname "$fedmesh")/fedmesh-hostile
[ -x "$hostile" ] || { echo "no $hostile: build the tests (tests/tools)" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
test_begin hostile_peer

seconds=${HOSTILE_SECONDS:-30}
rate=${HOSTILE_RATE:-1000}
udp_rate=${HOSTILE_UDP_RATE:-150}
RSS_GROWTH_KIB_MAX=16384

free_ports 9 $((15000 + $$ % 8000)) || { echo "no free ports" >&2; exit 1; }
make_token token >/dev/null
for n in a b c mallory; do admit_member "$n" FR || { echo "admit $n failed" >&2; exit 1; }; done
# Expired: valid for one day in 2001. Revoked: admitted, then revoked by
# the root; the agents hold the revocation.
"$fedmesh" keygen --out expired.key >/dev/null &&
  "$fedmesh" federation admit --root root.key --pubkey expired.key.pub --name expired-1 \
    --country FR --valid-from @1000000000 --days 1 --out expired.cert >/dev/null ||
  { echo "admit expired failed" >&2; exit 1; }
admit_member revoked-1 FR &&
  "$fedmesh" federation revoke --root root.key --pubkey revoked-1.key.pub --out revoked.rev >/dev/null ||
  { echo "revoke failed" >&2; exit 1; }

i=0
for n in a b c; do
  lease_agent_ini "$n" "$i" | sed "s|^seeds = .*|&\nrevocation_files = revoked.rev|" >"$n.ini"
  i=$((i + 1))
done
for n in a b c; do
  "$fedmesh" agent --config "$n.ini" 2>>"$n.log" &
  pids+=($!)
  eval "pid_$n=$!"
done

view_states() { # AGENT: "name=state" lines of a, b and c in AGENT's view
  "$fedmesh" peers --config "$1.ini" --json 2>/dev/null |
    jq -r '.members[] | select(.name == "a" or .name == "b" or .name == "c") | "\(.name)=\(.state)"' 2>/dev/null
}
all_alive() {
  local n
  for n in a b c; do [ "$(view_states "$n" | grep -c '=alive$')" = 3 ] || return 1; done
}
wait_until 30 all_alive && ok || { bad "three agents converge: $(view_states a | tr '\n' ' ')"; finish; }
sleep 1.5 # past the lenders' start-up quiet time

expect 0 "introduce mallory" -- "$hostile" --target "tcp://127.0.0.1:${ports[0]}" \
  --target-pub a.key.pub --victim-pub b.key.pub --key mallory.key --cert mallory.cert --introduce
sleep 1

metric() { # FILE NAME{LABELS}: the value, 0 if absent
  awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }' "$1"
}
snapshot() { # TAG
  "$fedmesh" peers --config a.ini --stats >"stats.$1.json" 2>/dev/null
  curl -s "http://127.0.0.1:${ports[6]}/metrics" >"metrics.$1.txt"
}
snapshot before

# The borrower: b borrows 2 vCPUs from a for a few seconds, releases,
# again, for as long as the flood lasts.
borrow_loop() {
  local granted=0 refused=0 out id
  while [ ! -f flood.done ]; do
    local code=0
    out=$("$fedmesh" borrow --config b.ini --vcpu 2 --hours 1 --lender a --timeout-ms 5000 --json 2>>borrow.err) || code=$?
    if [ "$code" -eq 0 ]; then
      granted=$((granted + 1))
      id=$(jq -r '.leases[0].id // empty' <<<"$out")
      [ -n "$id" ] && "$fedmesh" release --config b.ini "$id" >/dev/null 2>>borrow.err
    else
      refused=$((refused + 1))
      printf 'exit %s: %s\n' "$code" "$out" >>borrow.err
    fi
    sleep 0.5
  done
  printf '%d %d\n' "$granted" "$refused" >borrow.result
}
borrow_loop &
borrower=$!

# The watcher: every second, each agent's view of a, b and c.
watch_views() {
  while [ ! -f flood.done ]; do
    for n in a b c; do view_states "$n" | grep -v '=alive$' | sed "s/^/$n sees /" >>views.bad; done
    sleep 1
  done
}
watch_views &
watcher=$!

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
"$hostile" --target "tcp://127.0.0.1:${ports[0]}" --target-pub a.key.pub --victim-pub b.key.pub \
  --key mallory.key --cert mallory.cert --expired-key expired.key --expired-cert expired.cert \
  --revoked-key revoked-1.key --revoked-cert revoked-1.cert \
  --seconds "$seconds" --rate "$rate" --udp-rate "$udp_rate" >sent.json 2>hostile.err &
flooder=$!
sleep "$(awk -v s="$seconds" 'BEGIN { print s / 3 }')"
rss_warm=$(rss_kib "$pid_a")
wait "$flooder" && ok || bad "fedmesh-hostile: $(head -c 300 hostile.err)"
# The last frames may still wait in sockets and in a's queue (on a loaded
# machine, seconds): wait until a's refusal counters stop moving, 1 s
# apart, for at most 60 s.
refusals() {
  "$fedmesh" peers --config a.ini --stats 2>/dev/null |
    jq '([.gossip.rejected[]] | add) + .agent.frames_oversize_in + .transport.udp_oversize'
}
previous=-1
for _ in $(seq 60); do
  current=$(refusals)
  [ "$current" = "$previous" ] && break
  previous=$current
  sleep 1
done
rss_end=$(rss_kib "$pid_a")
touch flood.done
wait "$borrower" "$watcher"
snapshot after

for n in a b c; do
  eval "pid=\$pid_$n"
  kill -0 "$pid" 2>/dev/null && ok || bad "agent $n exited during the flood: $(tail -3 "$n.log")"
done
all_alive && ok || bad "after the flood, all alive: $(view_states a | tr '\n' ' ')"
# No false down; a suspicion (refuted) is counted and printed, not failed:
# past the agent's capacity its receive queue drops frames, legitimate
# probes among them.
touch views.bad
! grep -q '=down$\|=left$' views.bad && ok || bad "a legitimate member was seen down: $(sort -u views.bad | head -5 | tr '\n' ' ')"
suspect_samples=$(grep -c '=suspect$' views.bad)
read -r granted borrow_refused <borrow.result
[ "$granted" -ge 3 ] && [ "$borrow_refused" -eq 0 ] && ok ||
  bad "borrows from a during the flood: $granted granted, $borrow_refused not: $(tail -c 300 borrow.err)"
if [ -n "${MESH_TEST_SANITIZER:-}" ]; then
  # ASan keeps freed memory in quarantine (256 MiB by default): RSS says
  # nothing about leaks there, and LeakSanitizer checks at exit instead.
  echo "NOT CHECKED under $MESH_TEST_SANITIZER: a's RSS $rss_warm -> $rss_end KiB (ASan quarantine)" >&2
else
  [ "$rss_end" -le $((rss_warm + RSS_GROWTH_KIB_MAX)) ] && ok ||
    bad "a's RSS grew from $rss_warm to $rss_end KiB"
fi

# Accounting: increases of a's counters.
gossip_delta() { echo $(($(jq ".gossip.rejected.$1" stats.after.json) - $(jq ".gossip.rejected.$1" stats.before.json))); }
stat_delta() { echo $(($(jq ".$1" stats.after.json) - $(jq ".$1" stats.before.json))); }
lease_delta() {
  local k="fedmesh_lease_rejected_total{reason=\"$1\"}"
  echo $(($(metric metrics.after.txt "$k") - $(metric metrics.before.txt "$k")))
}
sent() { jq ".kinds.$1" sent.json; }
dropped=$(stat_delta transport.queue_dropped)
udp_in=$(stat_delta transport.udp_received)
udp_sent=$(($(sent udp_forged) + $(sent udp_oversize) + $(sent udp_random)))
# What the kernel's receive buffer dropped before a saw it (a lower bound:
# udp_received counts the legitimate probes too).
udp_seen=$((udp_in + $(stat_delta transport.udp_oversize)))
udp_lost=$((udp_sent > udp_seen ? udp_sent - udp_seen : 0))

json_kinds=""
check_kind() { # LABEL SENT REFUSED SLACK
  json_kinds+="${json_kinds:+, }\"$1\": {\"sent\": $2, \"refused\": $3}"
  if [ "$3" -ge $(($2 - $4)) ] && [ "$2" -gt 0 ]; then ok; else bad "$1: sent $2, refused and counted $3 (slack $4)"; fi
}
check_kind "forged+udp_forged (gossip bad_signature)" $(($(sent forged) + $(sent udp_forged))) "$(gossip_delta bad_signature)" $((dropped + udp_lost))
check_kind "replayed (gossip replay)" "$(sent replayed)" "$(gossip_delta replay)" "$dropped"
check_kind "expired (gossip cert_invalid)" "$(sent expired)" "$(gossip_delta cert_invalid)" "$dropped"
check_kind "revoked (gossip revoked)" "$(sent revoked)" "$(gossip_delta revoked)" "$dropped"
check_kind "oversize (agent frames_oversize_in)" "$(sent oversize)" "$(stat_delta agent.frames_oversize_in)" "$dropped"
check_kind "truncated+random+udp_random (gossip malformed)" $(($(sent truncated) + $(sent random) + $(sent udp_random))) "$(gossip_delta malformed)" $((dropped + udp_lost))
check_kind "lease_forged (lease bad_signature)" "$(sent lease_forged)" "$(lease_delta bad_signature)" "$dropped"
check_kind "lease_wrong_id (lease unexpected)" "$(sent lease_wrong_id)" "$(lease_delta unexpected)" "$dropped"
# The replayed request is genuine: a handles it whenever it holds no slot
# for its id (once, then again each time the offer's hold lapses).
check_kind "lease_replayed (lease replay)" "$(sent lease_replayed)" "$(lease_delta replay)" $((dropped + $(sent lease_replayed) / 10))
check_kind "lease_expired (lease expired)" "$(sent lease_expired)" "$(lease_delta expired)" "$dropped"
check_kind "lease_truncated (lease malformed)" "$(sent lease_truncated)" "$(lease_delta malformed)" "$dropped"
check_kind "udp_oversize (transport udp_oversize)" "$(sent udp_oversize)" "$(stat_delta transport.udp_oversize)" "$udp_lost"
# The spoofed pushes, in b's name, cost b nothing at a: no frame of b's
# (nor anyone's) was refused for b's rate budget, and each was refused
# record by record (15 junk records each).
check_kind "spoofed (gossip malformed records, 15 each)" "$(($(sent spoofed) * 15))" \
  $(($(gossip_delta malformed) - $(sent truncated) - $(sent random) - $(sent udp_random))) $((dropped * 15))
rate_limited=$(gossip_delta rate_limited)
[ "$rate_limited" -eq 0 ] && ok || bad "frames refused for a rate budget: $rate_limited (the spoofed pushes spent b's)"
# Neither expired-1 nor revoked-1 ever entered a's view; mallory's one
# genuine advert (the introduction) is the only one a took.
"$fedmesh" peers --config a.ini --json >view.json
[ "$(jq '[.members[] | select(.name == "expired-1" or .name == "revoked-1") | select(.state != "revoked")] | length' view.json)" = 0 ] &&
  ok || bad "expired-1 or revoked-1 in a's view: $(jq -c '[.members[] | {name, state}]' view.json)"
[ "$(jq '[.members[] | select(.name == "mallory") | .sequence == pow(2; 62)] | .[0]' view.json)" = true ] &&
  ok || bad "mallory's sequence is its introduction's: $(jq -c '[.members[] | {name, state, sequence}]' view.json)"
if [ -n "${HOSTILE_KEEP_DIR:-}" ]; then rm -rf "$HOSTILE_KEEP_DIR"; cp -r "$dir" "$HOSTILE_KEEP_DIR"; fi

printf '{"seconds": %s, "sent_total": %s, "rate_per_s": %s, "queue_dropped": %s, "udp_sent": %s, "udp_received": %s, "rate_limited": %s, "rss_kib_warm": %s, "rss_kib_end": %s, "suspect_samples": %s, "borrows_granted": %s, "borrows_refused": %s, "kinds": {%s}}\n' \
  "$(jq .seconds sent.json)" "$(jq .sent_total sent.json)" "$(jq .rate_per_s sent.json)" "$dropped" \
  "$udp_sent" "$udp_in" "$rate_limited" "$rss_warm" "$rss_end" "$suspect_samples" "$granted" "$borrow_refused" "$json_kinds"
finish
