#!/usr/bin/env bash
# integration.revocation: revoking a member, end to end, as an operator
# would, between four real agents on 127.0.0.1 (issue #11 item 11).
#
# Four agents a, b, c, d, each with a data directory, an HTTP API, and the
# seed list "a, d" (so d is in b's seeds), rejoining seeds every second.
# Once they see each other:
#   1. a revocation signed by another root is refused by `fedmesh revoke
#      publish` (exit 1, a clear message) and by POST /v1/revocations
#      (403 bad_signature), and counted in /metrics;
#   2. the root's revocation of d is published through a; every agent then
#      holds it (`fedmesh peers`, GET /v1/revocations) and shows d revoked;
#   3. d is told why: it logs self_revoked once, with the reason, and shows
#      it in `fedmesh peers`, `fedmesh revoke list`, /v1/status and
#      /metrics (fedmesh_self_revoked 1); it goes quiet;
#   4. nobody sends to d any more: d's count of frames received does not
#      move over 5 s (5 seed rejoin rounds, 25 probe rounds), while the
#      others count the seed sends they refused;
#   5. b is restarted: it reads the revocation back from its data
#      directory, still shows it, and never contacts d, though d is in its
#      seed list (d's count still does not move);
#   6. publishing the same revocation again through c is a duplicate, 200.
# Bounded waits everywhere; the whole test takes about 20 s.
set -u
fedmesh=${1:?usage: revocation_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin revocation
command -v curl >/dev/null || { bad "curl is not installed (apt-get install curl)"; finish; }
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }
start=$((20000 + ($$ * 13) % 40000))
free_ports 12 "$start" || { bad "found only ${#ports[@]} free ports from $start"; finish; }
names=(a b c d)
token=$(make_token token)
"$fedmesh" federation init --out root.key >/dev/null || { bad "federation init"; finish; }
for i in 0 1 2 3; do
  n=${names[$i]}
  admit_member "$n" FR || { bad "keys and certificate for $n"; finish; }
  cat >"$n.ini" <<EOF
[node]
name = $n
key_file = $n.key
certificate_file = $n.cert
root_public_key_file = root.key.pub
data_dir = $n.data
listen = tcp://127.0.0.1:${ports[$i]}
control = tcp://127.0.0.1:${ports[$((i + 4))]}
seeds = tcp://127.0.0.1:${ports[0]}, tcp://127.0.0.1:${ports[3]}

[capacity]
vcpu_total = 16

[gossip]
probe_interval_ms = 200
probe_timeout_ms = 80
suspicion_min_ms = 400
suspicion_max_ms = 1200
rejoin_interval_s = 1

[http]
listen = http://127.0.0.1:${ports[$((i + 8))]}
token_file = token
EOF
done

start_agent() { # start_agent INDEX: (re)starts agent INDEX, logging to NAME.log
  local n=${names[$1]}
  "$fedmesh" agent --config "$n.ini" 2>>"$n.log" &
  pids[$1]=$!
}
for i in 0 1 2 3; do start_agent $i; done

api() { # api INDEX METHOD PATH [CURL OPTIONS...]: the body on stdout
  local i=$1 method=$2 path=$3
  shift 3
  curl -s -X "$method" -H "Authorization: Bearer $token" "$@" \
    "http://127.0.0.1:${ports[$((i + 8))]}$path"
}
view() { "$fedmesh" peers --config "${names[$1]}.ini" --json 2>/dev/null; }
alive_count() { view "$1" | jq '[.members[] | select(.state == "alive")] | length'; }
all_see_alive() {
  local i
  for i in 0 1 2 3; do [ "$(alive_count $i)" = 4 ] || return 1; done
}
wait_until 20 all_see_alive && ok || { bad "the four agents do not see each other"; finish; }

metric() { # metric INDEX NAME: the sample's value ("" when absent)
  api "$1" GET /metrics | awk -v m="$2" '$1 == m { print $2 }'
}
# D's frames received, at the transport (TCP and UDP), from its stats.
d_frames() {
  "$fedmesh" peers --config d.ini --stats 2>/dev/null | jq '.transport.frames_received'
}

# 1. A forged revocation (another root) is refused, clearly, and counted.
"$fedmesh" federation init --out other-root.key >/dev/null || bad "second root"
"$fedmesh" federation revoke --root other-root.key --pubkey c.key.pub --reason forged \
  --out forged.rev >/dev/null || bad "signing the forged revocation"
expect 1 "publishing a forged revocation" -- "$fedmesh" revoke publish forged.rev --config a.ini
contains err "not signed by this federation's root key" "forged: the error says why"
contains err "bad_signature" "forged: the error names the code"
status=$(curl -s -o forged.json -w '%{http_code}' -H "Authorization: Bearer $token" \
  --data-binary @forged.rev "http://127.0.0.1:${ports[8]}/v1/revocations")
[ "$status" = 403 ] && ok || bad "POST forged: status $status, wanted 403"
[ "$(jq -r .error.code forged.json)" = bad_signature ] && ok || bad "POST forged: $(cat forged.json)"
[ "$(metric 0 'fedmesh_revocations_published_total{result="bad_signature"}')" = 2 ] && ok ||
  bad "forged refusals not counted: $(api 0 GET /metrics | grep revocations_published)"
[ "$(api 0 GET /v1/revocations | jq .count)" = 0 ] && ok || bad "a forged revocation is held"
printf 'not a revocation\n' >junk.rev
expect 1 "publishing junk" -- "$fedmesh" revoke publish junk.rev --config a.ini
contains err "not an armored revocation" "junk: the error says why"

# 2. The root revokes d; the revocation is published through a.
"$fedmesh" federation revoke --root root.key --pubkey d.key.pub --reason "key leaked" \
  --out d.rev >out 2>err || bad "federation revoke: $(cat err)"
contains out "fedmesh revoke publish d.rev" "federation revoke says how to publish"
# A revocation of d published through d itself is refused: d would go
# quiet before telling anyone.
expect 1 "publishing d's revocation through d" -- "$fedmesh" revoke publish d.rev --config d.ini
contains err "publish it through another member" "self: the error says what to do"
published_ms=$(date +%s%3N)
expect 0 "publishing d's revocation through a" -- "$fedmesh" revoke publish d.rev --config a.ini
[ "$(jq -r .published out)" = true ] && ok || bad "publish answer: $(cat out)"
d_id=$(jq -r .id out)
holds_everywhere() {
  local i
  for i in 0 1 2; do
    [ "$(api $i GET /v1/revocations | jq -r '.revocations[0].id')" = "$d_id" ] || return 1
    [ "$(view $i | jq -r '.members[] | select(.name == "d") | .state')" = revoked ] || return 1
  done
}
wait_until 10 holds_everywhere && ok || bad "a, b and c do not all hold d's revocation"
echo "held by a, b and c (as polled) $(($(date +%s%3N) - published_ms)) ms after the publish"
[ "$(api 2 GET /v1/revocations | jq -r '.revocations[0].reason')" = "key leaked" ] && ok ||
  bad "c's revocation: $(api 2 GET /v1/revocations)"
"$fedmesh" peers --config c.ini >table 2>&1
contains table "Revocations held: 1" "peers shows the revocations section"
contains table "key leaked" "peers shows the reason"
[ "$(metric 1 fedmesh_revocations_held)" = 1 ] && ok || bad "b: fedmesh_revocations_held"
for n in a b c; do
  ls "$n.data/revocations/$d_id.revocation" >/dev/null 2>&1 && ok || bad "$n did not keep it"
done

# 3. d is told why, logs it once, shows it, and goes quiet.
d_knows() { grep -q 'event=self_revoked' d.log; }
wait_until 15 d_knows && ok || bad "d never logged self_revoked: $(tail -n 5 d.log)"
echo "d logged self_revoked (as polled) $(($(date +%s%3N) - published_ms)) ms after the publish"
contains d.log 'reason="key leaked"' "d's log line has the reason"
contains d.log "revoked_at=" "d's log line has the time"
[ "$(metric 3 fedmesh_self_revoked)" = 1 ] && ok || bad "d: fedmesh_self_revoked"
[ "$(api 3 GET /v1/status | jq .self_revoked)" = true ] && ok || bad "d: /v1/status self_revoked"
"$fedmesh" revoke list --config d.ini >dlist 2>&1
contains dlist "THIS NODE IS REVOKED" "d: revoke list says so"
told=0
for i in 0 1 2; do told=$((told + $(metric $i fedmesh_revocations_told_total))); done
[ "$told" -ge 1 ] && ok || bad "nobody told d (fedmesh_revocations_told_total)"

# 4. Nobody sends to d any more; the others refuse their seed sends to it.
sleep 1 # frames already in flight land
d_ticks() { metric 3 'fedmesh_gossip_round_duration_seconds_count{call="tick"}'; }
ticks_before=$(d_ticks)
before=$(d_frames)
d_out_before=$(metric 3 fedmesh_gossip_frames_sent_total)
sleep 5
after=$(d_frames)
[ -n "$before" ] && [ "$before" = "$after" ] && ok ||
  bad "d still receives frames: $before -> $after"
[ "$(metric 3 fedmesh_gossip_frames_sent_total)" = "$d_out_before" ] && ok || bad "d still sends"
refused=$(metric 2 fedmesh_revocation_sends_refused_total)
[ "${refused:-0}" -ge 3 ] && ok || bad "c refused ${refused:-no} seed sends to d"
echo "d frames received: $before before and $after after 5 s; c refused $refused sends to d; told $told"
echo "d machine calls (ticks) in those 5 s: $(($(d_ticks) - ticks_before))"

# 5. b restarts: it reads the revocation back and never contacts d.
kill -TERM "${pids[1]}"
wait "${pids[1]}" 2>/dev/null
start_agent 1
b_back() { [ "$(view 1 | jq '[.members[] | select(.state == "alive")] | length')" = 3 ]; }
wait_until 10 b_back && ok || bad "b did not come back"
contains b.log "event=revocations_restored" "b read its revocations back"
[ "$(api 1 GET /v1/revocations | jq -r '.revocations[0].id')" = "$d_id" ] && ok ||
  bad "b lost the revocation across a restart"
[ "$(api 1 GET /v1/revocations | jq -r '.revocations[0].endpoint')" = "tcp://127.0.0.1:${ports[3]}" ] &&
  ok || bad "b lost d's endpoint across a restart"
sleep 3 # three rejoin rounds, each with d in b's seeds
[ "$(d_frames)" = "$after" ] && ok || bad "d was contacted after b restarted: $after -> $(d_frames)"
refused_b=$(metric 1 fedmesh_revocation_sends_refused_total)
[ "${refused_b:-0}" -ge 1 ] && ok || bad "b did not refuse its seed sends to d"

# 6. The same revocation again, through c: a duplicate, accepted.
status=$(curl -s -o again.json -w '%{http_code}' -H "Authorization: Bearer $token" \
  --data-binary @d.rev "http://127.0.0.1:${ports[10]}/v1/revocations")
[ "$status" = 200 ] && [ "$(jq .duplicate again.json)" = true ] && ok ||
  bad "POST again: $status $(cat again.json)"

[ "$(grep -c 'event=self_revoked' d.log)" = 1 ] && ok || bad "d logged self_revoked more than once"
for i in 0 1 2 3; do kill -TERM "${pids[$i]}" 2>/dev/null; done
for i in 0 1 2 3; do wait "${pids[$i]}" 2>/dev/null; done
if [ "$failed" -ne 0 ]; then
  for n in a b c d; do echo "--- $n.log (last lines)"; tail -n 8 "$dir/$n.log"; done
fi
# REVOCATION_TEST_KEEP=DIR keeps the four logs there (for the figures).
if [ -n "${REVOCATION_TEST_KEEP:-}" ]; then cp "$dir"/?.log "$REVOCATION_TEST_KEEP"/; fi
finish
