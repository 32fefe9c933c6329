#!/usr/bin/env bash
# integration.crash_restart: agents SIGKILLed mid-lease while borrowers keep
# borrowing, restarted at once on the same data directory, KILLS times
# (CRASH_RESTART_KILLS, default 50; about 3 minutes).
#
# Three members a, b and c (lease_agent_ini: quick gossip, 1 s offers and
# usage records), each lending 64 vCPUs. One client loop per agent borrows
# 1 vCPU for 3 s through the HTTP API (POST /v1/leases) without pause, and
# appends every lease the API acknowledged (status granted or partial) to
# acks-NAME.jsonl: {id, borrower, lender}. A lease is acknowledged only
# once both parties synced its opened record (docs/leases.md), so from
# then on both ledgers must hold it, whatever is killed.
#
# Each round kills the next agent (a, b, c, a, ...) with SIGKILL, while
# leases are open and borrows in flight, and then, before restarting it:
#   - `fedmesh ledger verify` passes on its ledger (offline, the agent
#     dead);
#   - every acknowledged lease it is a party to (lender or borrower) is in
#     its ledger (`fedmesh ledger history`): no acknowledged lease and no
#     record it acknowledged is lost.
# It is restarted at once; the round ends when its API answers and a new
# lease it is a party to is acknowledged (bounded: 30 s), and the next
# round kills a few hundred ms later.
#
# After the last round the clients stop, and within a bounded time (90 s)
# every lease on every agent ends and settles, those in flight at a kill
# included (expired, released or reclaimed, then settled: no lease stuck
# open or half agreed), with nothing left in flight. Then the agents stop,
# every ledger verifies, every pair reconciles record for record with no
# mismatch, and every acknowledged lease is settled in both its ledgers.
# Prints one JSON line: kills, leases acknowledged, records checked, lost.
set -u
fedmesh=${1:?usage: crash_restart_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin crash_restart
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }
command -v curl >/dev/null || { bad "curl is not installed (apt-get install curl)"; finish; }
kills_wanted=${CRASH_RESTART_KILLS:-50}
# CRASH_RESTART_KEEP=1 keeps the directory (logs, ledgers) for a post-mortem.
[ -n "${CRASH_RESTART_KEEP:-}" ] && trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; echo "kept $dir" >&2' EXIT
names=(a b c)

free_ports 9 $((24000 + ($$ * 13) % 30000)) || { bad "found only ${#ports[@]} free ports"; finish; }
make_token token >/dev/null
for n in "${names[@]}"; do
  admit_member "$n" FR --jurisdiction EU || { bad "identity $n"; finish; }
done
i=0
for n in "${names[@]}"; do
  # Every agent seeds from all three: a restarted agent finds the others
  # at once (with agent 0 alone as the seed, agent 0 restarted waits for
  # the others' rejoin_interval, 30 s).
  lease_agent_ini "$n" "$i" |
    sed "s|^seeds = .*|seeds = tcp://127.0.0.1:${ports[0]}\nseeds = tcp://127.0.0.1:${ports[1]}\nseeds = tcp://127.0.0.1:${ports[2]}|" >"$n.ini"
  i=$((i + 1))
done

declare -A pid
start() {
  "$fedmesh" agent --config "$1.ini" 2>>"$1.log" &
  pid[$1]=$!
  pids+=($!)
}
api() { # NAME INDEX -> URL
  printf 'http://127.0.0.1:%s' "${ports[$(($2 + 6))]}"
}
auth="Authorization: Bearer $(cat token)"

for n in "${names[@]}"; do start "$n"; done
alive_count() {
  "$fedmesh" peers --config "$1.ini" --json 2>/dev/null | jq '[.members[] | select(.state == "alive")] | length'
}
all_alive() { for n in "${names[@]}"; do [ "$(alive_count "$n")" = 3 ] || return 1; done; }
wait_until 30 all_alive || { bad "three members alive: $(alive_count a)"; finish; }
sleep 1.5 # past every lender's start-up quiet time (offer_ttl)

# The clients: one per agent, each borrowing from that agent's API until
# the file "stop" exists. Every answer is counted by HTTP code and status.
borrow_loop() { # NAME INDEX
  local n=$1 url code
  url="$(api "$1" "$2")/v1/leases"
  local body='{"resources":[{"class":"vcpu","amount":1}],"duration_s":3,"timeout_ms":3000}'
  while [ ! -e stop ]; do
    code=$(curl -sS -m 8 -o "resp-$n.json" -w '%{http_code}' -H "$auth" -d "$body" "$url" 2>/dev/null)
    if [ "$code" = 200 ]; then
      jq -c --arg b "$n" '.leases[]? | {id, borrower: $b, lender: .peer_name}' "resp-$n.json" \
        >>"acks-$n.jsonl"
      printf '200 %s\n' "$(jq -r '.status + " " + (.reason // "")' "resp-$n.json")" >>"answers-$n.log"
    else
      printf '%s %s\n' "${code:-000}" "$(jq -r '.error.code? // "no_answer"' "resp-$n.json" 2>/dev/null)" \
        >>"answers-$n.log"
      sleep 0.1 # the agent is down or starting: do not spin
    fi
    rm -f "resp-$n.json"
  done
}
client_pids=()
i=0
for n in "${names[@]}"; do
  touch "acks-$n.jsonl" "answers-$n.log"
  borrow_loop "$n" "$i" &
  client_pids+=($!)
  pids+=($!)
  i=$((i + 1))
done

# acked_of NAME: the acknowledged leases NAME is a party to, one id a line.
acked_of() {
  cat acks-*.jsonl 2>/dev/null | jq -r --arg n "$1" 'select(.borrower == $n or .lender == $n) | .id' | sort -u
}
api_up() { curl -sS -m 2 -o /dev/null -H "$auth" "$1/v1/status" 2>/dev/null; }

kills=0
records_checked=0
lost=0
rounds_failed=0
round_s_max=0
started=$SECONDS
index=0
while [ "$kills" -lt "$kills_wanted" ]; do
  n=${names[$index]}
  url=$(api "$n" "$index")
  # Mid-lease: leases of 3 s are open, borrows in flight; vary the moment.
  sleep "0.$(printf '%03d' $((RANDOM % 400)))"
  kill -KILL "${pid[$n]}"
  wait "${pid[$n]}" 2>/dev/null
  kills=$((kills + 1))
  # Offline, before the restart: the ledger verifies and holds every
  # acknowledged lease of this agent.
  if ! "$fedmesh" ledger verify --ledger "$n.ledger" --json >verify.json 2>verify.err; then
    bad "round $kills: verify $n after SIGKILL: $(cat verify.err) $(head -c 300 verify.json)"
  fi
  acked_of "$n" >acked.txt
  "$fedmesh" ledger history --ledger "$n.ledger" --json 2>history.err |
    jq -r '.. | objects | select(has("lease_id") and .kind == "opened") | .lease_id' | sort -u >held.txt
  missing=$(comm -23 acked.txt held.txt | wc -l)
  records_checked=$((records_checked + $(wc -l <acked.txt)))
  if [ "$missing" -gt 0 ]; then
    lost=$((lost + missing))
    bad "round $kills: $missing acknowledged leases of $n are not in its ledger after SIGKILL: $(comm -23 acked.txt held.txt | head -3 | tr '\n' ' ')"
  fi
  before=$(wc -l <acked.txt)
  round_started=$SECONDS
  start "$n"
  if ! wait_until 20 api_up "$url"; then
    bad "round $kills: $n's API does not answer after the restart: $(tail -3 "$n.log")"
    rounds_failed=$((rounds_failed + 1))
    break
  fi
  # The next lease this agent is a party to, acknowledged after the restart.
  next_ack() { [ "$(acked_of "$n" | wc -l)" -gt "$before" ]; }
  if ! wait_until 30 next_ack; then
    bad "round $kills: no lease of $n acknowledged within 30 s of its restart: $(tail -q -n 3 answers-*.log | tr '\n' ' ')"
    rounds_failed=$((rounds_failed + 1))
    [ "$rounds_failed" -ge 3 ] && break
  fi
  round_s=$((SECONDS - round_started))
  [ "$round_s" -gt "$round_s_max" ] && round_s_max=$round_s
  printf 'round %d: %s killed, %d acknowledged leases held, a new one after %d s\n' \
    "$kills" "$n" "$before" "$round_s" >&2
  index=$(((index + 1) % 3))
done
load_s=$((SECONDS - started))

touch stop
for p in "${client_pids[@]}"; do wait "$p" 2>/dev/null; done

# Every lease ends and settles, in flight ones included, within 90 s.
all_settled() { for n in "${names[@]}"; do [ "$(leases_unsettled "$n")" = 0 ] || return 1; done; }
if wait_until 90 all_settled; then ok; else
  bad "leases still unsettled 90 s after the load: a=$(leases_unsettled a) b=$(leases_unsettled b) c=$(leases_unsettled c)"
fi

for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${pid[@]}"; do wait "$p" 2>/dev/null; done
pids=()
for n in "${names[@]}"; do
  expect 0 "ledger verify $n at the end" -- "$fedmesh" ledger verify --ledger "$n.ledger" --json
done
shared=0
for pair in "a b" "a c" "b c"; do
  set -- $pair
  expect 0 "reconcile $1 $2" -- "$fedmesh" ledger reconcile --ledger "$1.ledger" --other "$2.ledger" --json
  [ "$(jq '.mismatches // [] | length' out 2>/dev/null)" = 0 ] && ok || bad "reconcile $1 $2 mismatches: $(head -c 400 out)"
  shared=$((shared + $(jq '.shared // 0' out)))
done
# Every acknowledged lease is settled in both of its ledgers.
for n in "${names[@]}"; do
  "$fedmesh" ledger history --ledger "$n.ledger" --json |
    jq -r '.. | objects | select(has("lease_id") and .kind == "settled") | .lease_id' | sort -u >"settled-$n.txt"
done
acked_total=$(cat acks-*.jsonl | jq -r .id | sort -u | wc -l)
not_settled=0
while read -r id borrower lender; do
  for party in "$borrower" "$lender"; do
    grep -qx "$id" "settled-$party.txt" || not_settled=$((not_settled + 1))
  done
done < <(cat acks-*.jsonl | jq -r '[.id, .borrower, .lender] | @tsv' | sort -u)
records_checked=$((records_checked + 2 * acked_total))
[ "$not_settled" = 0 ] && ok || { lost=$((lost + not_settled)); bad "$not_settled acknowledged lease sides are not settled"; }
[ "$kills" -ge "$kills_wanted" ] && ok || bad "only $kills of $kills_wanted kills"
[ "$acked_total" -gt "$kills" ] && ok || bad "only $acked_total leases acknowledged in $kills rounds"

answers=$(cat answers-*.log | awk '{c[$1 " " $2]++} END {for (k in c) printf "%s%s: %d", (n++ ? ", " : ""), k, c[k]}')
printf '{"test":"crash_restart","kills":%d,"load_s":%d,"leases_acknowledged":%d,"records_checked":%d,"records_reconciled":%d,"lost":%d,"restart_to_next_lease_s_max":%d}\n' \
  "$kills" "$load_s" "$acked_total" "$records_checked" "$shared" "$lost" "$round_s_max"
printf 'answers by code and status: %s\n' "$answers"
finish
