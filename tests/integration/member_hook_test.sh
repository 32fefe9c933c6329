#!/usr/bin/env bash
# integration.member_hook: [hooks] on_member, the membership event hook,
# between three real agents on 127.0.0.1.
#
# Each agent runs a hook that appends "$FEDMESH_EVENT <the JSON on stdin>"
# to its own file. Checks that: every agent's hook sees the two others
# join; after `peers --refresh` on a1, a0 and a2 see "update" for a1 with
# the sequence the refresh returned (and a1 its own); after SIGKILL of a2,
# a0 and a1 see "down" for a2, after "suspect"; the JSON carries event,
# member id, name, state, sequence and time; a hook that hangs (and what it
# started) is killed at [hooks] timeout_ms and counted in `peers --stats`
# (hooks.member.timeouts), and the next event still runs. Bounded waits
# everywhere; about 15 s.
set -u
fedmesh=${1:?usage: member_hook_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin member_hook
start=$((20000 + ($$ * 7) % 40000))
free_ports 6 "$start" || { bad "found only ${#ports[@]} free ports from $start"; finish; }
n=3
sleeper=$((600 + $$ % 300)) # a sleep this hook starts, findable by its argument
for i in $(seq 0 $((n - 1))); do
  admit_member "a$i" FR || { bad "keys and certificate for a$i"; finish; }
  # The hook hangs while the file "hang" exists, in a child of its own
  # process group: the timeout must kill both.
  cat >"a$i.hook" <<EOF
#!/bin/sh
input=\$(cat)
if [ -f "$dir/hang" ]; then sleep $sleeper; fi
printf '%s %s\n' "\$FEDMESH_EVENT" "\$input" >>"$dir/a$i.events"
EOF
  chmod +x "a$i.hook"
  cat >"a$i.ini" <<EOF
[node]
name = a$i
key_file = a$i.key
certificate_file = a$i.cert
root_public_key_file = root.key.pub
listen = tcp://127.0.0.1:${ports[$i]}
control = tcp://127.0.0.1:${ports[$((i + 3))]}
seeds = tcp://127.0.0.1:${ports[0]}

[capacity]
vcpu_total = 64
vcpu_lendable = 16

[gossip]
probe_interval_ms = 200
probe_timeout_ms = 80
suspicion_min_ms = 400
suspicion_max_ms = 1200

[hooks]
on_member = a$i.hook
timeout_ms = 1000
EOF
done
for i in $(seq 0 $((n - 1))); do
  "$fedmesh" agent --config "a$i.ini" 2>"a$i.log" &
  pids+=($!)
done

# seen AGENT EVENT NAME [SEQUENCE]: AGENT's hook got EVENT about NAME.
seen() {
  local pattern="^$2 .*\"event\":\"$2\".*\"name\":\"$3\""
  [ $# -ge 4 ] && pattern="$pattern.*\"sequence\":$4,"
  grep -qE "$pattern" "a$1.events" 2>/dev/null
}
check() { # DESCRIPTION SECONDS COMMAND...
  local what=$1 seconds=$2
  shift 2
  if wait_until "$seconds" "$@"; then ok; else bad "$what"; fi
}

# Joins: each agent sees the two others.
for i in 0 1 2; do
  for j in 0 1 2; do
    [ "$i" -eq "$j" ] && continue
    check "a$i saw a$j join" 20 seen "$i" join "a$j"
  done
done
line=$(grep -m1 '"name":"a1"' a0.events)
for field in '"member":"' '"state":"alive"' '"sequence":' '"self":false' '"time_unix_ms":'; do
  case "$line" in *"$field"*) ok ;; *) bad "a0's join JSON has no $field: $line" ;; esac
done

# Update: a fresh advert of a1, through the control socket.
"$fedmesh" peers --control "tcp://127.0.0.1:${ports[4]}" --refresh >refresh.out 2>&1
sequence=$(grep -oE '"sequence":[0-9]+' refresh.out | grep -oE '[0-9]+$')
if [ -n "$sequence" ]; then ok; else bad "refresh gave no sequence: $(cat refresh.out)"; fi
check "a0 saw a1's update $sequence" 10 seen 0 update a1 "$sequence"
check "a2 saw a1's update $sequence" 10 seen 2 update a1 "$sequence"
check "a1 saw its own update $sequence" 10 seen 1 update a1 "$sequence"
grep -E "^update .*\"name\":\"a1\".*\"sequence\":$sequence," a1.events | grep -qF '"self":true' &&
  ok || bad "a1's own update is not marked self"

# Down: SIGKILL a2; a0 and a1 see it suspect, then down.
kill -KILL "${pids[2]}"
check "a0 saw a2 down" 20 seen 0 down a2
check "a1 saw a2 down" 20 seen 1 down a2
for i in 0 1; do
  awk '/"name":"a2"/ { print $1 }' "a$i.events" | tr '\n' ' ' | grep -qE 'suspect down' &&
    ok || bad "a$i: no suspect before down for a2: $(grep a2 "a$i.events" | cut -c1-60)"
  grep '"name":"a2"' "a$i.events" | grep '^down' | grep -qF '"previous":"suspect"' &&
    ok || bad "a$i: a2's down event does not say previous suspect"
done

# A hook that hangs is killed at the timeout (1 s), with the sleep it
# started, and counted; the hook runs again for the next event.
timeouts() {
  "$fedmesh" peers --control "tcp://127.0.0.1:${ports[3]}" --stats 2>/dev/null |
    grep -oE '"member":\{[^}]*\}' | grep -oE '"timeouts":[0-9]+' | grep -oE '[0-9]+$'
}
before=$(timeouts)
[ -n "$before" ] && ok || bad "peers --stats has no hooks.member.timeouts"
touch hang
"$fedmesh" peers --control "tcp://127.0.0.1:${ports[4]}" --refresh >/dev/null 2>&1
more_timeouts() { [ "$(timeouts)" -gt "${before:-0}" ]; }
check "a0's hanging hook was killed and counted" 15 more_timeouts
grep -q 'event=failed .*hook=member member_event=update .*timed_out=true' a0.log &&
  ok || bad "a0 logged no timed-out member hook: $(grep 'hook' a0.log | tail -2)"
no_sleeper() { ! pgrep -x -f "sleep $sleeper" >/dev/null; }
check "the hook's child (sleep $sleeper) was killed with it" 15 no_sleeper
rm -f hang
"$fedmesh" peers --control "tcp://127.0.0.1:${ports[4]}" --refresh >refresh.out 2>&1
sequence=$(grep -oE '"sequence":[0-9]+' refresh.out | grep -oE '[0-9]+$')
check "a0's hook ran again after the timeout" 15 seen 0 update a1 "${sequence:-none}"

for i in 0 1; do kill -TERM "${pids[$i]}"; done
finish
