#!/usr/bin/env bash
# integration.gray_failure: one agent of five is paused (SIGSTOP) for a
# random 2..8 s, resumed (SIGCONT), again and again, while the others keep
# probing it; a gray failure, not a crash: the process is there, its
# sockets are open, it just does not answer for a while.
#
# Five agents on 127.0.0.1 with a 500 ms probe interval, a 200 ms probe
# timeout and a suspicion that lasts 4..6 s (suspicion_min_ms = 4000):
# the suspicion timeout is set inside the 2..8 s range of the pauses so
# that both kinds occur. The victim (n3; n1 is the seed) is paused for
# 60 s in the default suite, 10 minutes with GRAY_FAILURE_LONG=1 (or
# GRAY_FAILURE_S=SECONDS); GRAY_FAILURE_SEED=N replays the same pause
# lengths. After each SIGCONT the test waits (at most 20 s) until all four
# others see the victim alive and the victim sees all of them alive, then
# leaves it running for 0.5..2 s before the next pause.
#
# From the agents' logs (event=member_state ... state=down, with ts) it
# checks: (a) every time the victim was declared down, by whom and after
# which pause: a pause shorter than suspicion_min_ms never gets it
# declared down (a suspicion is raised only once a probe has failed after
# the pause began, and lasts at least suspicion_min), a longer one may,
# and after each pause it is seen alive again by all; it is never declared
# down while it runs; (b) false positives: a healthy (never paused) member
# declared down by anyone, the victim included once it runs again: must
# be 0. The counts are printed as one JSON line at the end.
#
# The victim is paused with its sockets open, so frames for it pile up in
# its socket buffers and NNG's queues and are read at once on SIGCONT,
# after its own timers have all come due: exactly when a node could blame
# others for its own lateness. Bounded: about 80 s in the default suite,
# about 11 minutes with GRAY_FAILURE_LONG=1 (ctest's timeout allows both).
set -u
fedmesh=${1:?usage: gray_failure_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin gray_failure
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }

duration_s=${GRAY_FAILURE_S:-60}
[ "${GRAY_FAILURE_LONG:-0}" = 1 ] && duration_s=${GRAY_FAILURE_S:-600}
seed=${GRAY_FAILURE_SEED:-$$}
RANDOM=$seed
n=5
victim=3
pause_ms_min=2000
pause_ms_max=8000
suspicion_min_ms=4000
suspicion_max_ms=6000
rejoin_s_max=20
echo "gray failure: $n agents, victim n$victim, ${duration_s} s of pauses of ${pause_ms_min}..${pause_ms_max} ms, suspicion ${suspicion_min_ms}..${suspicion_max_ms} ms, seed $seed"

free_ports $((2 * n)) $((21000 + ($$ * 13) % 30000)) || { bad "found only ${#ports[@]} free ports"; finish; }
for i in $(seq 1 $n); do
  admit_member "n$i" FR --jurisdiction EU || { bad "identity n$i"; finish; }
  cat >"n$i.ini" <<INI
[node]
name = n$i
key_file = n$i.key
certificate_file = n$i.cert
root_public_key_file = root.key.pub
listen = tcp://127.0.0.1:${ports[$((i - 1))]}
control = tcp://127.0.0.1:${ports[$((i - 1 + n))]}
seeds = tcp://127.0.0.1:${ports[0]}

[capacity]
vcpu_total = 64
vcpu_lendable = 16

[gossip]
probe_interval_ms = 500
probe_timeout_ms = 200
suspicion_min_ms = $suspicion_min_ms
suspicion_max_ms = $suspicion_max_ms
INI
done

declare -A pid_of
for i in $(seq 1 $n); do
  "$fedmesh" agent --config "n$i.ini" 2>"n$i.log" &
  pids+=($!)
  pid_of[$i]=$!
done

# state_in VIEWER NAME: NAME's state in VIEWER's view ("" when absent).
state_in() {
  "$fedmesh" peers --config "n$1.ini" --json 2>/dev/null |
    jq -r --arg n "$2" '.members[] | select(.name == $n) | .state'
}
all_alive_in() { # VIEWER: every member alive in VIEWER's view
  [ "$("$fedmesh" peers --config "n$1.ini" --json 2>/dev/null |
    jq '[.members[] | select(.state == "alive")] | length')" = "$n" ]
}
everyone_sees_everyone() {
  local i
  for i in $(seq 1 $n); do all_alive_in "$i" || return 1; done
}
wait_until 30 everyone_sees_everyone && ok || { bad "the $n agents did not converge"; finish; }
echo "converged"

now_ms() { date +%s%3N; }
# The pauses: one line each, "start_ms end_ms length_ms rejoin_ms".
: >pauses.txt
end_s=$((SECONDS + duration_s))
rejoin_failed=0
while [ $SECONDS -lt $end_s ]; do
  length_ms=$((pause_ms_min + RANDOM % (pause_ms_max - pause_ms_min + 1)))
  start_ms=$(now_ms)
  kill -STOP "${pid_of[$victim]}"
  sleep "$(printf '%d.%03d' $((length_ms / 1000)) $((length_ms % 1000)))"
  kill -CONT "${pid_of[$victim]}"
  stop_ms=$(now_ms)
  if wait_until $rejoin_s_max everyone_sees_everyone; then
    rejoin_ms=$(($(now_ms) - stop_ms))
  else
    rejoin_ms=-1
    rejoin_failed=$((rejoin_failed + 1))
    bad "after a pause of $((stop_ms - start_ms)) ms, n$victim was not seen alive by all (and did not see all alive) within ${rejoin_s_max} s"
  fi
  echo "$start_ms $stop_ms $((stop_ms - start_ms)) $rejoin_ms" >>pauses.txt
  running_ms=$((500 + RANDOM % 1501))
  sleep "$(printf '%d.%03d' $((running_ms / 1000)) $((running_ms % 1000)))"
done
pause_count=$(wc -l <pauses.txt)
echo "paused n$victim $pause_count times"
[ "$pause_count" -ge 3 ] && ok || bad "only $pause_count pauses in ${duration_s} s"

# Stop cleanly: every agent exits 0 on SIGTERM.
stop_agents

# Every "down" in every log: "declarer member ts_ms".
: >downs.txt
for i in $(seq 1 $n); do
  grep 'event=member_state' "n$i.log" | grep ' state=down ' | while read -r line; do
    ts=$(sed -n 's/^ts=\([^ ]*\) .*/\1/p' <<<"$line")
    who=$(sed -n 's/.* name=\([^ ]*\) .*/\1/p' <<<"$line")
    echo "n$i $who $(date -d "$ts" +%s%3N)"
  done >>downs.txt
done
healthy_suspected=0
for i in $(seq 1 $n); do
  c=$(grep 'event=member_state' "n$i.log" | grep ' state=suspect ' | grep -vc " name=n$victim ")
  healthy_suspected=$((healthy_suspected + c))
done

# (a) The victim declared down: each time, after which pause. A down at
# time t belongs to the last pause that began before t; one outside every
# pause and its rejoin window means the victim was declared down while it
# ran.
victim_downs=0
short_pause_downs=0
downs_while_running=0
declare -A downed_pause
while read -r declarer who t_ms; do
  [ "$who" = "n$victim" ] || continue
  victim_downs=$((victim_downs + 1))
  pause=$(awk -v t="$t_ms" '$1 <= t { p = $0 } END { print p }' pauses.txt)
  if [ -z "$pause" ]; then
    downs_while_running=$((downs_while_running + 1))
    bad "$declarer declared n$victim down before any pause"
    continue
  fi
  read -r p_start p_stop p_length p_rejoin <<<"$pause"
  window_end=$((p_stop + (p_rejoin < 0 ? rejoin_s_max * 1000 : p_rejoin) + 1000))
  if [ "$t_ms" -gt "$window_end" ]; then
    downs_while_running=$((downs_while_running + 1))
    bad "$declarer declared n$victim down $((t_ms - p_stop)) ms after a pause had ended and it had rejoined"
  elif [ "$p_length" -lt $suspicion_min_ms ]; then
    short_pause_downs=$((short_pause_downs + 1))
    bad "$declarer declared n$victim down after a pause of only $p_length ms (< suspicion_min $suspicion_min_ms ms)"
  fi
  downed_pause[$p_start]=1
done <downs.txt
[ $short_pause_downs -eq 0 ] && ok
[ $downs_while_running -eq 0 ] && ok

# (b) False positives: a healthy member declared down by anyone.
false_downs=$(awk -v v="n$victim" '$2 != v' downs.txt | wc -l)
false_downs_by_victim=$(awk -v v="n$victim" '$2 != v && $1 == v' downs.txt | wc -l)
if [ "$false_downs" -eq 0 ]; then ok; else
  bad "$false_downs healthy member(s) declared down ($false_downs_by_victim by the paused n$victim): $(awk -v v="n$victim" '$2 != v { printf "%s->%s ", $1, $2 }' downs.txt)"
fi

pauses_short=$(awk -v s=$suspicion_min_ms '$3 < s' pauses.txt | wc -l)
pauses_long=$((pause_count - pauses_short))
pauses_long_downed=${#downed_pause[@]}
rejoin_median_ms=$(awk '$4 >= 0 { print $4 }' pauses.txt | sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : -1) }')
rejoin_max_ms=$(awk 'BEGIN { m = -1 } $4 > m { m = $4 } END { print m }' pauses.txt)
by_length=$(awk '{ printf "%s[%d,%d]", (NR > 1 ? "," : ""), $3, $4 }' pauses.txt)
printf '{"test":"gray_failure","seed":%d,"duration_s":%d,"agents":%d,"suspicion_min_ms":%d,"pauses":%d,"pauses_short":%d,"pauses_long":%d,"pauses_long_declared_down":%d,"victim_declared_down":%d,"victim_declared_down_after_short_pause":%d,"victim_declared_down_while_running":%d,"rejoin_failed":%d,"rejoin_ms_median":%d,"rejoin_ms_max":%d,"false_positive_down":%d,"false_positive_down_by_paused":%d,"healthy_suspected":%d,"pause_ms_rejoin_ms":[%s]}\n' \
  "$seed" "$duration_s" $n $suspicion_min_ms "$pause_count" "$pauses_short" "$pauses_long" "$pauses_long_downed" \
  $victim_downs $short_pause_downs $downs_while_running $rejoin_failed "$rejoin_median_ms" "$rejoin_max_ms" \
  "$false_downs" "$false_downs_by_victim" $healthy_suspected "$by_length"
finish
