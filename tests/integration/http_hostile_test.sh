#!/usr/bin/env bash
# tests/integration/http_hostile_test.sh (ctest integration.http_hostile):
# the HTTP API's hostile clients (issue #11 items 6 and 12), against one
# agent on 127.0.0.1:
#   1. bad tokens at a high rate: BAD_TOKENS (default 3,000) requests with a
#      wrong bearer token, 50 at a time, while a legitimate client polls
#      /v1/status: every bad one gets 401 and is counted
#      (fedmesh_http_responses_total{code="401"}), every legitimate one gets
#      200, and the log holds a bounded number of "unauthorized" lines (one
#      per second at most, each with the count it suppressed);
#   2. slowloris: SLOW_CLIENTS connections send their request headers one
#      byte at a time while the legitimate client is still served;
#   3. huge headers: one header line over the 8 KiB head bound, and a
#      request with 64 KiB of header lines: 431 each (logged with the
#      client's address), and the legitimate client is served after;
#   4. bodies that never arrive: NODE_HTTP_INFLIGHT_MAX (128) POSTs declare
#      a body and send none. While they hold every slot, a request gets
#      503 busy with Retry-After: 1 (and a rate-limited "busy" log line);
#      after the body timeout (10 s) each stalled request gets 408 before
#      its connection closes (fedmesh_http_body_timeouts_total counts them);
#   5. many connections: 128 more send half a head and stop; with the 128
#      above that is NODE_HTTP_CONNECTIONS_MAX, so the next connection gets
#      503 busy with Retry-After at once, and after the head timeout (10 s)
#      each half head gets 408;
#   6. the connection rules: two pipelined requests get two answers in
#      order, a request line that is not HTTP/1.x gets 400, HTTP/1.0 closes.
# Prints the counts as JSON. Uses bash's /dev/tcp for raw connections.
set -u
fedmesh=${1:?usage: http_hostile_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin http_hostile
command -v curl >/dev/null || { bad "curl is not installed (apt-get install curl)"; finish; }
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }

bad_tokens=${BAD_TOKENS:-3000}
slow_clients=${SLOW_CLIENTS:-20}
inflight_max=128 # NODE_HTTP_INFLIGHT_MAX

free_ports 3 $((23000 + ($$ * 11) % 20000)) || { bad "found only ${#ports[@]} free ports"; finish; }
token=$(make_token a.token)
admit_member a FR || { bad "identity a"; finish; }
cat >a.ini <<EOF
[node]
name = a
key_file = a.key
certificate_file = a.cert
root_public_key_file = root.key.pub
listen = tcp://127.0.0.1:${ports[0]}
control = tcp://127.0.0.1:${ports[1]}
log_level = info

[capacity]
vcpu_total = 16

[http]
listen = http://127.0.0.1:${ports[2]}
token_file = a.token
EOF
"$fedmesh" agent --config a.ini 2>a.log &
pids+=($!)
pid_a=$!
api=http://127.0.0.1:${ports[2]}
status_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$api/v1/status")" = 200 ]; }
wait_until 20 status_ok && ok || { bad "the API answers: $(tail -3 a.log)"; finish; }
metric() { curl -s "$api/metrics" | awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'; }

# The legitimate client: polls /v1/status until told to stop; writes how
# many answers were 200 and how many were not.
legit_start() {
  rm -f legit.stop
  (
    good=0 other=0
    while [ ! -f legit.stop ]; do
      code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Authorization: Bearer $token" "$api/v1/status")
      if [ "$code" = 200 ]; then good=$((good + 1)); else other=$((other + 1)); fi
      sleep 0.05
    done
    printf '%d %d\n' "$good" "$other" >legit.result
  ) &
  legit=$!
}
legit_stop() { # DESCRIPTION
  touch legit.stop
  wait "$legit"
  read -r good other <legit.result
  [ "$good" -ge 1 ] && [ "$other" -eq 0 ] && ok || bad "$1: legitimate client got $good 200s and $other others"
}

# 1. Bad tokens.
before_401=$(metric 'fedmesh_http_responses_total{code="401"}')
lines_before=$(grep -c 'event=unauthorized' a.log)
for i in $(seq "$bad_tokens"); do printf 'url = "%s/v1/status"\noutput = "/dev/null"\n' "$api"; done >bad.curl
legit_start
started=$SECONDS
curl -s -Z --parallel-max 50 -K bad.curl -H "Authorization: Bearer wrong-token-$$" \
  -w '%{http_code}\n' >bad.codes 2>bad.err
flood_s=$((SECONDS - started + 1))
legit_stop "during $bad_tokens bad tokens"
got_401=$(grep -c '^401$' bad.codes)
[ "$got_401" -eq "$bad_tokens" ] && ok || bad "bad tokens: $got_401 of $bad_tokens got 401: $(sort bad.codes | uniq -c | tr '\n' ' ')"
sleep 1.1 # the next window's line reports what the last one suppressed
curl -s -o /dev/null -H "Authorization: Bearer wrong-again" "$api/v1/status"
counted_401=$(($(metric 'fedmesh_http_responses_total{code="401"}') - before_401))
[ "$counted_401" -ge $((bad_tokens + 1)) ] && ok || bad "401s counted: $counted_401 of $((bad_tokens + 1))"
unauthorized_lines=$(($(grep -c 'event=unauthorized' a.log) - lines_before))
[ "$unauthorized_lines" -ge 1 ] && [ "$unauthorized_lines" -le $((flood_s + 2)) ] && ok ||
  bad "unauthorized log lines: $unauthorized_lines for $bad_tokens bad tokens in ${flood_s}s"
grep 'event=unauthorized' a.log | tail -1 | grep -q 'client=127.0.0.1:[0-9]' && ok ||
  bad "the unauthorized line names the client: $(grep 'event=unauthorized' a.log | tail -1)"
suppressed=$(grep 'event=unauthorized' a.log | sed -n 's/.*suppressed=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ $((suppressed + unauthorized_lines)) -ge $((bad_tokens + 1)) ] && ok ||
  bad "unauthorized lines ($unauthorized_lines) and their suppressed counts ($suppressed) do not add up to $((bad_tokens + 1))"

# 2. Slowloris: headers one byte at a time, for a few seconds.
slow_request="GET /v1/status HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer $token\r\nX-Padding: $(printf 'x%.0s' $(seq 40))\r\n\r\n"
slowloris() {
  local fd i text
  exec {fd}<>"/dev/tcp/127.0.0.1/${ports[2]}" || return 1
  text=$(printf "$slow_request")
  for ((i = 0; i < 60 && i < ${#text}; i++)); do
    printf '%s' "${text:i:1}" >&"$fd" 2>/dev/null || break
    sleep 0.1
  done
  exec {fd}>&-
}
legit_start
slow=()
for i in $(seq "$slow_clients"); do slowloris & slow+=($!); done
wait "${slow[@]}"
legit_stop "during $slow_clients slowloris clients"
kill -0 "$pid_a" 2>/dev/null && ok || bad "the agent exited during slowloris"

# 3. Huge headers: one line over the 8 KiB buffer; then many lines.
raw() { # REQUEST_FILE: sends it on a fresh connection, prints the status line (or nothing)
  local fd
  exec {fd}<>"/dev/tcp/127.0.0.1/${ports[2]}" || return 1
  cat "$1" >&"$fd" 2>/dev/null
  timeout 5 head -c 200 <&"$fd" 2>/dev/null | head -1 | tr -d '\r'
  exec {fd}>&-
}
{ printf 'GET /v1/status HTTP/1.1\r\nHost: a\r\nX-Huge: '; head -c 16384 /dev/zero | tr '\0' 'h'; printf '\r\n\r\n'; } >huge_line.req
{ printf 'GET /v1/status HTTP/1.1\r\nHost: a\r\n'; for i in $(seq 64); do printf 'X-Many-%d: ' "$i"; head -c 1000 /dev/zero | tr '\0' 'm'; printf '\r\n'; done; printf '\r\n'; } >many_lines.req
huge_line_status=$(raw huge_line.req)
many_lines_status=$(raw many_lines.req)
case "$huge_line_status" in "HTTP/1.1 431"*) ok ;; *) bad "a 16 KiB header line: '$huge_line_status', wanted 431" ;; esac
case "$many_lines_status" in "HTTP/1.1 431"*) ok ;; *) bad "64 KiB of header lines: '$many_lines_status', wanted 431" ;; esac
grep -q 'event=bad_request client=127.0.0.1:[0-9]* status=431' a.log && ok || bad "the 431 is logged with the client"
status_ok && ok || bad "the legitimate client is served after huge headers"

# 4. Bodies that never arrive: every slot taken, then 503 busy with
# Retry-After; then 408 for each.
before_busy=$(metric fedmesh_http_busy_total)
before_408=$(metric fedmesh_http_body_timeouts_total)
busy_lines_before=$(grep -c 'event=busy' a.log)
stalled=()
for i in $(seq "$inflight_max"); do
  exec {fd}<>"/dev/tcp/127.0.0.1/${ports[2]}" || { bad "connection $i"; break; }
  printf 'POST /v1/load HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n' "$token" >&"$fd"
  stalled+=("$fd")
done
sleep 1 # every stalled request is reading its body now
busy_started=$SECONDS
curl -s -D busy.headers -o busy.body -H "Authorization: Bearer $token" "$api/v1/status"
grep -q '^HTTP/1.1 503' busy.headers && ok || bad "every slot taken: $(head -1 busy.headers)"
grep -qi '^Retry-After: 1' busy.headers && ok || bad "503 busy has Retry-After: $(tr '\r\n' '  ' <busy.headers)"
jq -e '.error.code == "busy"' busy.body >/dev/null && ok || bad "503 body: $(cat busy.body)"
for i in $(seq 20); do curl -s -o /dev/null -H "Authorization: Bearer $token" "$api/v1/status"; done
busy_s=$((SECONDS - busy_started + 1))
busy_lines=$(($(grep -c 'event=busy' a.log) - busy_lines_before))
[ "$busy_lines" -ge 1 ] && [ "$busy_lines" -le $((busy_s + 1)) ] && ok ||
  bad "busy log lines: $busy_lines for 21 refusals in ${busy_s}s"
# Many connections: 128 more that send half a head and stop. With the
# stalled ones that is every connection the server keeps
# (NODE_HTTP_CONNECTIONS_MAX, 256): the next gets 503 busy at once.
half=()
for i in $(seq "$inflight_max"); do
  exec {fd}<>"/dev/tcp/127.0.0.1/${ports[2]}" || { bad "half-head connection $i"; break; }
  printf 'GET /v1/status HTTP/1.1\r\nHost: a\r\n' >&"$fd"
  half+=("$fd")
done
sleep 0.5
curl -s -D conns.headers -o conns.body -H "Authorization: Bearer $token" "$api/v1/status"
grep -q '^HTTP/1.1 503' conns.headers && grep -qi '^Retry-After: 1' conns.headers && ok ||
  bad "over the connection bound: $(tr '\r\n' '  ' <conns.headers)"
count_408() { # FD...: reads each connection's answer, closes it, prints how many were 408
  local fd line count=0
  for fd in "$@"; do
    line=$(timeout 15 head -c 200 <&"$fd" 2>/dev/null | head -1 | tr -d '\r')
    case "$line" in "HTTP/1.1 408"*) count=$((count + 1)) ;; esac
    exec {fd}>&-
  done
  echo "$count"
}
got_408=$(count_408 "${stalled[@]}")
[ "$got_408" -eq "$inflight_max" ] && ok || bad "bodies that never arrived: $got_408 of $inflight_max got 408"
head_408=$(count_408 "${half[@]}")
[ "$head_408" -eq "$inflight_max" ] && ok || bad "heads that never ended: $head_408 of $inflight_max got 408"
# /metrics answers again now that the slots are free.
busy_counted=$(($(metric fedmesh_http_busy_total) - before_busy))
[ "$busy_counted" -ge 22 ] && ok || bad "busy counted $busy_counted of 22"
counted_408=$(($(metric fedmesh_http_body_timeouts_total) - before_408))
[ "$counted_408" -eq "$inflight_max" ] && ok || bad "408s counted: $counted_408 of $inflight_max"
status_ok && ok || bad "the legitimate client is served once the stalled clients are gone"
kill -0 "$pid_a" 2>/dev/null && ok || bad "the agent exited"

# 6. The connection layer's own rules: two pipelined requests on one
# connection get two answers in order; a request line that is not
# HTTP/1.x gets 400; HTTP/1.0 closes after its answer.
printf 'GET /v1/status HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' "$token" >pipelined.req
exec {fd}<>"/dev/tcp/127.0.0.1/${ports[2]}" && cat pipelined.req >&"$fd"
# A JSON body ends without a newline: the next status line follows it.
timeout 5 cat <&"$fd" | grep -ao 'HTTP/1.1 [0-9]* [A-Za-z ]*' >pipelined.out
exec {fd}>&-
[ "$(tr '\n' ' ' <pipelined.out)" = "HTTP/1.1 200 OK HTTP/1.1 404 Not Found " ] && ok ||
  bad "pipelined: $(tr '\n' ' ' <pipelined.out)"
printf 'GARBAGE\r\n\r\n' >garbage.req
case "$(raw garbage.req)" in "HTTP/1.1 400"*) ok ;; *) bad "a bad request line: '$(raw garbage.req)'" ;; esac
printf 'GET /v1/status HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n' "$token" >old.req
exec {fd}<>"/dev/tcp/127.0.0.1/${ports[2]}" && cat old.req >&"$fd"
timeout 5 cat <&"$fd" >old.out && ok || bad "HTTP/1.0: the connection stays open"
exec {fd}>&-
grep -q '^HTTP/1.1 200' old.out && ok || bad "HTTP/1.0: $(head -1 old.out)"

printf '{"bad_tokens": %s, "bad_tokens_401": %s, "bad_tokens_s": %s, "unauthorized_log_lines": %s, "suppressed_in_lines": %s, "slowloris_clients": %s, "huge_header_line": "%s", "many_header_lines": "%s", "stalled_bodies": %s, "got_408": %s, "half_heads_408": %s, "busy_503_counted": %s, "busy_log_lines": %s}\n' \
  "$bad_tokens" "$got_401" "$flood_s" "$unauthorized_lines" "$suppressed" "$slow_clients" \
  "$huge_line_status" "$many_lines_status" "$inflight_max" "$got_408" "$head_408" "$busy_counted" "$busy_lines"
finish
