#!/usr/bin/env bash
# integration.member_hook: [hooks] on_member, the membership event hook,
# between three real agents on 127.0.0.1 (lib.sh's lease_agent_ini).
#
# Each agent runs a hook that appends "$FEDMESH_EVENT <the JSON on stdin>"
# to its own file. Checks that: every agent's hook sees the two others
# join; after `peers --refresh` on a1, a0 and a2 see "update" for a1 with
# the sequence the refresh returned (and a1 its own, marked self); lease
# hooks never wait behind member hooks: with every member hook held until a
# lease's "granted" hook has run, a borrow still gets its granted hooks run
# and the member hooks finish without a timeout (one shared worker would
# hold both until the timeout); after SIGKILL of a2, a0 and a1 see
# "suspect" then "down" for a2; the JSON carries event, member id, name,
# state, previous, sequence, self and time; a hook that hangs (and what it
# started) is killed at [hooks] timeout_ms and counted in `peers --stats`
# (hooks.member.timeouts), and the next event still runs. Bounded waits
# everywhere; about 25 s.
set -u
fedmesh=${1:?usage: member_hook_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin member_hook
free_ports 9 $((20000 + ($$ * 7) % 30000)) || { bad "found only ${#ports[@]} free ports"; finish; }
make_token token >/dev/null
n=3
sleeper=$((600 + $$ % 300)) # a sleep this hook starts, findable by its argument
# The granted hook (either side of a lease) releases the held member hooks.
printf '#!/bin/sh\ncat >/dev/null\ntouch "%s/granted.done"\n' "$dir" >granted.hook
chmod +x granted.hook
for i in $(seq 0 $((n - 1))); do
  admit_member "a$i" FR || { bad "keys and certificate for a$i"; finish; }
  # When the file "hang.aI" exists the next run takes it and hangs, in a
  # child of its own process group: the timeout must kill both. While
  # "hold" exists an update waits for a lease's granted hook.
  cat >"a$i.hook" <<EOF
#!/bin/sh
input=\$(cat)
if mv "$dir/hang.a$i" "$dir/hung.a$i" 2>/dev/null; then sleep $sleeper; fi
if [ -f "$dir/hold" ] && [ "\$FEDMESH_EVENT" = update ]; then
  touch "$dir/held.a$i"
  while [ ! -f "$dir/granted.done" ]; do sleep 0.05; done
fi
printf '%s %s\n' "\$FEDMESH_EVENT" "\$input" >>"$dir/a$i.events"
EOF
  chmod +x "a$i.hook"
  { lease_agent_ini "a$i" "$i"
    printf '\n[hooks]\non_member = a%d.hook\non_granted = granted.hook\ntimeout_ms = 10000\n' "$i"
  } >"a$i.ini"
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

# Lease hooks never wait behind member hooks: every agent's member hook
# holds a1's next update until a granted hook has run.
stats_of() { # AGENT HOOK FIELD: a counter of `peers --stats` hooks
  "$fedmesh" peers --control "tcp://127.0.0.1:${ports[$(($1 + 3))]}" --stats 2>/dev/null |
    grep -oE "\"$2\":\{[^}]*\}" | grep -oE "\"$3\":[0-9]+" | grep -oE '[0-9]+$'
}
sleep 1.5 # past every lender's start-up quiet time (offer_ttl: refusal "starting")
touch hold
"$fedmesh" peers --control "tcp://127.0.0.1:${ports[4]}" --refresh >refresh.out 2>&1
sequence=$(grep -oE '"sequence":[0-9]+' refresh.out | grep -oE '[0-9]+$')
all_held() { [ -f held.a0 ] && [ -f held.a1 ] && [ -f held.a2 ]; }
check "every member hook is holding a1's update" 10 all_held
expect 0 "borrow while the member hooks hold" -- "$fedmesh" borrow --config a1.ini --vcpu 8 --hours 1 --json
[ "$(grep -c . out)" -gt 0 ] && grep -q '"lease_count":0' out && bad "no lease: $(head -c 600 out)"
check "a granted hook ran while the member hooks held" 10 test -f granted.done
for i in 0 1 2; do
  check "a$i's held hook got a1's update $sequence" 10 seen "$i" update a1 "${sequence:-none}"
  [ "$(stats_of "$i" member timeouts)" = 0 ] && ok || bad "a$i: a member hook timed out while held"
done
rm -f hold
[ $(( $(stats_of 0 granted runs) + $(stats_of 1 granted runs) + $(stats_of 2 granted runs) )) -ge 2 ] &&
  ok || bad "granted hooks on both sides of the lease: $(cat a*.log | grep 'hook=granted' | head -2)"

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

# A hook that hangs is killed at the timeout (10 s), with the sleep it
# started, and counted; the hook runs again for the next event.
timeouts() { stats_of 0 member timeouts; }
before=$(timeouts)
[ -n "$before" ] && ok || bad "peers --stats has no hooks.member.timeouts"
touch hang.a0
"$fedmesh" peers --control "tcp://127.0.0.1:${ports[4]}" --refresh >/dev/null 2>&1
more_timeouts() { [ "$(timeouts)" -gt "${before:-0}" ]; }
check "a0's hanging hook was killed and counted" 25 more_timeouts
grep -q 'event=failed .*hook=member member_event=update .*timed_out=true' a0.log &&
  ok || bad "a0 logged no timed-out member hook: $(grep 'hook' a0.log | tail -2)"
no_sleeper() { ! pgrep -x -f "sleep $sleeper" >/dev/null; }
check "the hook's child (sleep $sleeper) was killed with it" 15 no_sleeper
"$fedmesh" peers --control "tcp://127.0.0.1:${ports[4]}" --refresh >refresh.out 2>&1
sequence=$(grep -oE '"sequence":[0-9]+' refresh.out | grep -oE '[0-9]+$')
check "a0's hook ran again after the timeout" 25 seen 0 update a1 "${sequence:-none}"

for i in 0 1; do kill -TERM "${pids[$i]}"; done
finish
