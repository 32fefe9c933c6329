#!/usr/bin/env bash
# integration.netns_partition: six agents on six "hosts" (network
# namespaces), three in FR and three in DE, burst and lease across a
# partition of FR from DE that lasts 60 s (NETNS_PARTITION_S=N: another
# length), then heal.
#
# The network: one namespace holds two bridges, br-fr and br-de, joined by
# a veth pair (the "trunk"); each agent has its own namespace with one veth
# (eth0, 198.18.0.11..13 for FR, 198.18.0.21..23 for DE) whose other end is
# a port of its country's bridge. The partition is the trunk set down (both
# countries keep their own LAN); the heal sets it up. Latency per link with
# tc netem when the kernel has it (2 ms per host port, 15 ms on the trunk);
# when it has not, the test says why and runs without. All names carry the
# test's pid, every address is in 198.18.0.0/15, and the namespaces (with
# their veths and bridges) are removed at exit, on failure too. Without
# root (CAP_NET_ADMIN) or without network namespaces it skips (77) and
# says why.
#
# Each agent listens for gossip on its 198.18 address, answers the CLI on
# an ipc:// control socket in the test's directory and serves the HTTP API
# on 127.0.0.1 of its own namespace. fr1, fr2, de1 and de2 are loaded
# above their capacity through POST /v1/load and burst: fr1 with the data
# class "fr" (lender certified in FR, jurisdiction FR), de1 with "de", fr2
# and de2 with "eu" (any EU lender); fr3 and de3 are big lenders. The
# loads change every second, so leases are borrowed and released all
# along; during the partition, explicit borrows through the API add a
# "fr"/"de" lease per side and a borrow from the other country (refused:
# nobody there is reachable).
#
# Checks: the six converge; each side sees the other down during the
# partition; every lease opened during the partition (the borrower's
# `leases --json` then, and each ledger's audit after stop) has a lender
# whose certified country and jurisdictions meet its constraints and sits
# on the borrower's side; after the heal every agent sees six alive (within
# 120 s, TCP's longest retransmission timeout: the pushes queued during the
# partition wait on connections in backoff, which is what the printed time
# measures today); once the loads drop and the explicit leases are
# released, every lease settles on both sides; every pair of agents
# reconciles over the network (the cross-border pairs on the fresh
# connections each agent dialed for the members back from down: at least
# three each, `sockets_reset` in `peers --stats`); after stop every ledger
# verifies, every pair of ledgers reconciles offline, and every audit
# verifies against the root key. Prints the leases made during the
# partition and the time to reconverge. About 2.5 minutes.
set -u
fedmesh=${1:?usage: netns_partition_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"

skip() {
  printf 'SKIP integration.netns_partition: %s\n' "$*" >&2
  exit 77
}
[ "$(id -u)" = 0 ] || skip "network namespaces need root (CAP_NET_ADMIN); run as root to test partitions between hosts"
command -v ip >/dev/null || skip "the ip command (iproute2) is missing"

test_begin netns_partition
command -v jq >/dev/null || { bad "jq is not installed (apt-get install jq)"; finish; }
command -v curl >/dev/null || { bad "curl is not installed (apt-get install curl)"; finish; }

partition_s=${NETNS_PARTITION_S:-60}
names=(fr1 fr2 fr3 de1 de2 de3)
declare -A addr=([fr1]=198.18.0.11 [fr2]=198.18.0.12 [fr3]=198.18.0.13
  [de1]=198.18.0.21 [de2]=198.18.0.22 [de3]=198.18.0.23)
prefix=fmp$$
bridge_ns=$prefix-b
ns_of() { echo "$prefix-$1"; }
in_ns() { # NAME COMMAND...: runs COMMAND in NAME's namespace
  local name=$1
  shift
  ip netns exec "$(ns_of "$name")" "$@"
}

# Namespaces of this test's earlier runs whose process is gone (a run
# killed by a timeout cannot clean up) are removed too.
netns_cleanup() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^$prefix-"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
}
for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^fmp[0-9]+-'); do
  old=${ns#fmp}
  old=${old%%-*}
  kill -0 "$old" 2>/dev/null && continue
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
done
trap 'netns_cleanup; test_cleanup' EXIT
trap 'exit 130' INT TERM

# The network.
err=$(ip netns add "$bridge_ns" 2>&1) || skip "the kernel refuses network namespaces: $err"
for br in br-fr br-de; do
  ip -n "$bridge_ns" link add "$br" type bridge 2>err.txt || skip "the kernel refuses a bridge: $(cat err.txt)"
  ip -n "$bridge_ns" link set "$br" up
done
ip -n "$bridge_ns" link add trunk-fr type veth peer name trunk-de 2>err.txt || skip "the kernel refuses veth pairs: $(cat err.txt)"
ip -n "$bridge_ns" link set trunk-fr master br-fr up
ip -n "$bridge_ns" link set trunk-de master br-de up
for n in "${names[@]}"; do
  ns=$(ns_of "$n")
  ip netns add "$ns" || { bad "netns $ns"; finish; }
  ip link add eth0 netns "$ns" type veth peer name "$n" netns "$bridge_ns" || { bad "veth for $n"; finish; }
  ip -n "$bridge_ns" link set "$n" master "br-${n:0:2}" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "${addr[$n]}/24" dev eth0
  ip -n "$ns" link set eth0 up
done
# Latency per link, if the kernel has netem.
netem=0
if err=$(tc -n "$bridge_ns" qdisc add dev trunk-fr root netem delay 15ms 2>&1); then
  netem=1
  for n in "${names[@]}"; do tc -n "$bridge_ns" qdisc add dev "$n" root netem delay 2ms; done
  echo "latency: 15 ms on the FR-DE trunk, 2 ms on each host's port (tc netem)"
else
  why="tc netem: $err"
  if [ -r /proc/config.gz ] && zcat /proc/config.gz | grep -q '^# CONFIG_NET_SCH_NETEM is not set'; then
    why="$why; this kernel is built without it (CONFIG_NET_SCH_NETEM is not set) and cannot load it"
  elif ! command -v modprobe >/dev/null; then
    why="$why; modprobe sch_netem: no modprobe here"
  elif ! err2=$(modprobe sch_netem 2>&1); then
    why="$why; modprobe sch_netem: $err2"
  fi
  echo "NOTE: running without added latency: $why" >&2
fi
reachable() { in_ns fr1 ping -c 1 -W 1 "${addr[de3]}" >/dev/null 2>&1; }
if command -v ping >/dev/null; then
  wait_until 10 reachable && ok || bad "fr1 cannot reach de3 over the bridges"
fi

# Identities and configs.
make_token token >/dev/null
for n in "${names[@]}"; do
  cc=$(tr a-z A-Z <<<"${n:0:2}")
  admit_member "$n" "$cc" --jurisdiction "$cc" --jurisdiction EU || { bad "identity $n"; finish; }
done
for n in "${names[@]}"; do
  case $n in
    fr3 | de3) total=512 lendable=384 burst=0 class=eu ;;
    fr1) total=128 lendable=32 burst=1 class=fr ;;
    de1) total=128 lendable=32 burst=1 class=de ;;
    *) total=128 lendable=32 burst=1 class=eu ;;
  esac
  cat >"$n.ini" <<INI
[node]
name = $n
key_file = $n.key
certificate_file = $n.cert
root_public_key_file = root.key.pub
listen = tcp://${addr[$n]}:7946
control = ipc://$dir/$n.ctl
seeds = tcp://${addr[fr1]}:7946
seeds = tcp://${addr[de1]}:7946

[capacity]
vcpu_total = $total
vcpu_lendable = $lendable
price_microeur_per_vcpu_hour = 20000
carbon_gco2_per_kwh = 50

[gossip]
probe_interval_ms = 200
probe_timeout_ms = 80
suspicion_min_ms = 400
suspicion_max_ms = 1200
rejoin_interval_s = 2

[lease]
offer_ttl_ms = 1000
request_timeout_ms = 1000
retry_max_s = 2
usage_interval_s = 1
reclaim_notice_s = 1

[data_class fr]
countries = FR
jurisdictions = FR

[data_class de]
countries = DE
jurisdictions = DE

[data_class eu]
jurisdictions = EU

[burst]
enabled = $burst
threshold = 1
release_delay_s = 1
retry_s = 1
data_class = $class

[http]
listen = http://127.0.0.1:8750
token_file = token

[ledger]
path = $n.ledger
INI
done

declare -A pid_of
for n in "${names[@]}"; do
  ip netns exec "$(ns_of "$n")" "$fedmesh" agent --config "$n.ini" 2>"$n.log" &
  pids+=($!)
  pid_of[$n]=$!
done

view() { "$fedmesh" peers --config "$1.ini" --json 2>/dev/null; }
alive_in() { view "$1" | jq '[.members[] | select(.state == "alive")] | length'; }
all_see_six() {
  local n
  for n in "${names[@]}"; do [ "$(alive_in "$n")" = 6 ] || return 1; done
}
# other_side_down VIEWER: the three members of the other country are not
# alive in VIEWER's view.
other_side_down() {
  local other=de
  [ "${1:0:2}" = de ] && other=fr
  [ "$(view "$1" | jq --arg o "$other" '[.members[] | select((.name | startswith($o)) and .state == "alive")] | length')" = 0 ]
}
t0=$SECONDS
wait_until 60 all_see_six && ok || { bad "the six agents did not converge: $(for n in "${names[@]}"; do printf '%s=%s ' "$n" "$(alive_in "$n")"; done)"; finish; }
echo "converged in $((SECONDS - t0)) s"
sleep 1.5 # past every lender's start-up quiet time (offer_ttl)

# The load: fr1, fr2, de1, de2 report 128 running and 0..48 queued, a new
# draw every second; bursting borrows the overflow and gives it back.
post_load() { # NAME QUEUED RUNNING
  in_ns "$1" curl -sS -m 3 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat token)" \
    -d "{\"scheduler\":\"test\",\"resources\":[{\"class\":\"vcpu\",\"queued\":$2,\"running\":$3}]}" \
    http://127.0.0.1:8750/v1/load 2>/dev/null
}
load_failures=0
drive_load() { # SECONDS
  local until=$((SECONDS + $1)) n code
  while [ $SECONDS -lt $until ]; do
    for n in fr1 fr2 de1 de2; do
      code=$(post_load "$n" $((RANDOM % 49)) 128)
      [ "$code" = 200 ] || load_failures=$((load_failures + 1))
    done
    sleep 1
  done
}
drive_load 8

# The partition.
t_part_ns=$(date +%s%N)
ip -n "$bridge_ns" link set trunk-fr down
echo "partition: FR | DE"
part_seen() { local n; for n in "${names[@]}"; do other_side_down "$n" || return 1; done; }
drive_load 3
wait_until 15 part_seen && ok || bad "each side sees the other down during the partition"

# Explicit borrows through the API during the partition: one per side
# under its country's data class (granted on its own side), one from the
# other country (refused: nobody there is reachable).
borrow() { # NAME OUTPUT ARGS...
  local n=$1 out=$2
  shift 2
  in_ns "$n" "$fedmesh" borrow --config "$n.ini" --vcpu 8 --hours 1 --timeout-ms 5000 --json "$@" >"$out" 2>>borrow.err
}
explicit=()
for n in fr2 de2; do
  cc=${n:0:2}
  borrow "$n" "borrow-$n.json" --data-class "$cc"
  if [ "$(jq -r '.status' "borrow-$n.json")" = granted ] &&
    [ "$(jq --arg c "$cc" '[.leases[] | select(.peer_name | startswith($c) | not)] | length' "borrow-$n.json")" = 0 ]; then
    ok
    explicit+=("$n:$(jq -r '.leases[0].id' "borrow-$n.json")")
  else
    bad "$n's borrow under data class $cc during the partition: $(head -c 400 "borrow-$n.json")"
  fi
  other=DE
  [ "$cc" = de ] && other=FR
  borrow "$n" "borrow-$n-other.json" --country "$other"
  status=$(jq -r '.status' "borrow-$n-other.json")
  [ "$status" = refused ] && [ "$(jq '.lease_count' "borrow-$n-other.json")" = 0 ] && ok ||
    bad "$n's borrow in $other during the partition: $status $(head -c 400 "borrow-$n-other.json")"
done
drive_load $((partition_s - ($(date +%s%N) - t_part_ns) / 1000000000))

# What each side holds, seen from there before the heal: every lease
# opened after the partition began (opened_at has whole seconds: from the
# next second on) has its peer on the same side.
leases_json() { in_ns "$1" "$fedmesh" leases --config "$1.ini" --json 2>/dev/null; }
since=$(date -u -d "@$((t_part_ns / 1000000000 + 1))" +%Y-%m-%dT%H:%M:%SZ)
live_during=0
cross_live=0
for n in "${names[@]}"; do
  leases_json "$n" >"leases-$n-partition.json"
  jq -e '.leases' "leases-$n-partition.json" >/dev/null || { bad "$n: leases --json during the partition: $(head -c 300 "leases-$n-partition.json")"; continue; }
  live_during=$((live_during + $(jq --arg t "$since" '[.leases[] | select(.opened_at >= $t)] | length' "leases-$n-partition.json")))
  cross_live=$((cross_live + $(jq --arg s "${n:0:2}" --arg t "$since" \
    '[.leases[] | select(.opened_at >= $t and (.peer_name | startswith($s) | not))] | length' "leases-$n-partition.json")))
done
[ "$cross_live" = 0 ] && ok || bad "$cross_live leases opened during the partition across it (leases --json)"
echo "leases --json during the partition: $live_during leases (both sides' copies) opened since the partition, $cross_live across it"

# The heal.
ip -n "$bridge_ns" link set trunk-fr up
t_heal_ns=$(date +%s%N)
echo "healed after $(((t_heal_ns - t_part_ns) / 1000000)) ms"
# Bounded by TCP's retransmission timeout at most (120 s): the pushes
# queued during the partition wait on connections in backoff.
if wait_until 120 all_see_six; then
  ok
  reconverge_ms=$((($(date +%s%N) - t_heal_ns) / 1000000))
else
  reconverge_ms=-1
  bad "membership did not reconverge within 120 s: $(for n in "${names[@]}"; do printf '%s=%s ' "$n" "$(alive_in "$n")"; done)"
fi
echo "reconverged in $reconverge_ms ms"
drive_load 4

# Drain: no more load, the explicit leases given back; every lease ends
# and settles on both sides.
for n in fr1 fr2 de1 de2; do
  [ "$(post_load "$n" 0 0)" = 200 ] && ok || bad "load report to $n"
done
# A lease the burst policy already gave back (its surplus covered it)
# answers 3 (no open lease); either way it must settle below.
for e in "${explicit[@]}"; do
  in_ns "${e%%:*}" "$fedmesh" release --config "${e%%:*}.ini" "${e#*:}" >/dev/null 2>release.err
  rc=$?
  [ $rc = 0 ] || [ $rc = 3 ] && ok || bad "release $e: exit $rc $(cat release.err)"
done
unsettled() { # prints NAME=COUNT for each agent holding a lease that is not settled
  local n c
  for n in "${names[@]}"; do
    c=$(leases_json "$n" | jq '[.leases[] | select(.state != "settled")] + (.in_flight // []) | length')
    [ "$c" = 0 ] || printf '%s=%s ' "$n" "$c"
  done
}
all_settled() { [ -z "$(unsettled)" ]; }
api_get() { # NAME PATH
  in_ns "$1" curl -sS -m 3 -H "Authorization: Bearer $(cat token)" "http://127.0.0.1:8750$2" 2>/dev/null
}
if wait_until 90 all_settled; then ok; else
  bad "leases still not settled 90 s after the drain: $(unsettled)"
  for n in "${names[@]}"; do
    printf '%s: borrowed %s; open: %s\n' "$n" "$(api_get "$n" /v1/capacity | jq -c '[.resources[] | .borrowed]')" \
      "$(leases_json "$n" | jq -c '[.leases[] | select(.state != "settled") | {id: .id[0:8], role, peer_name, phase, reclaim_at, resources}]')"
    api_get "$n" /metrics | grep -E '^fedmesh_(lease_rejected_total|burst_|lease_retries)' | grep -v ' 0$' | sed "s/^/  $n: /"
  done
fi
[ "$load_failures" = 0 ] && ok || bad "$load_failures load reports refused"

# Every pair reconciles over the network, across the healed partition.
for ((i = 0; i < 6; i++)); do
  for ((j = i + 1; j < 6; j++)); do
    a=${names[$i]} b=${names[$j]}
    in_ns "$a" "$fedmesh" ledger reconcile --config "$a.ini" --peer "$b" --json >"net-$a-$b.json" 2>"net-$a-$b.err" &&
      [ "$(jq '.agree' "net-$a-$b.json")" = true ] && ok ||
      bad "network reconcile $a $b: $(head -c 300 "net-$a-$b.json") $(head -c 300 "net-$a-$b.err")"
  done
done

# Outgoing sockets closed and dialed again for members back from down
# (node_transport_reset): across the healed partition, each agent had three.
sockets_reset=0
for n in "${names[@]}"; do
  r=$("$fedmesh" peers --config "$n.ini" --stats 2>/dev/null | grep -o '"sockets_reset":[0-9]*' | cut -d: -f2)
  [ "${r:-0}" -ge 3 ] && ok || bad "$n reset ${r:-no} sockets to members back from down (3 wanted)"
  sockets_reset=$((sockets_reset + ${r:-0}))
done

# Stop; every ledger verifies; every pair reconciles offline.
stop_agents
for n in "${names[@]}"; do
  expect 0 "ledger verify $n" -- "$fedmesh" ledger verify --ledger "$n.ledger"
done
for ((i = 0; i < 6; i++)); do
  for ((j = i + 1; j < 6; j++)); do
    a=${names[$i]} b=${names[$j]}
    expect 0 "reconcile $a $b" -- "$fedmesh" ledger reconcile --ledger "$a.ledger" --other "$b.ledger" --json
  done
done

# The audits: every lease meets its constraints (certified country and
# jurisdictions of its lender); a lease opened during the partition has
# its two parties on one side.
during=0
during_constrained=0
total_leases=0
cross_before=0
for n in "${names[@]}"; do
  "$fedmesh" ledger audit --ledger "$n.ledger" --format json >"audit-$n.json" || { bad "audit $n"; continue; }
  expect 0 "audit --verify $n" -- "$fedmesh" ledger audit --verify "audit-$n.json" --root root.key.pub
  # Only the borrower's copy of each lease is counted (each is in two ledgers).
  jq -c '.leases[] | select(.role == "borrower")' "audit-$n.json" >"audit-$n.jsonl"
  total_leases=$((total_leases + $(wc -l <"audit-$n.jsonl")))
  bad_constraints=$(jq -s '[.[] | select(. as $l |
      (($l.constraints.countries | length) > 0 and ($l.constraints.countries | index($l.lender_country)) == null) or
      ([$l.constraints.jurisdictions[] as $j | $l.lender_jurisdictions | index($j)] | any(. == null)))] | length' "audit-$n.jsonl")
  [ "$bad_constraints" = 0 ] && ok || bad "$n: $bad_constraints leases whose lender does not meet their constraints"
  part=$(jq -s --arg a "$t_part_ns" --arg b "$t_heal_ns" \
    '[.[] | select((.records[0].time_ns | tonumber) >= ($a | tonumber) and (.records[0].time_ns | tonumber) <= ($b | tonumber))]' "audit-$n.jsonl")
  during=$((during + $(jq 'length' <<<"$part")))
  during_constrained=$((during_constrained + $(jq '[.[] | select(.data_class == "fr" or .data_class == "de")] | length' <<<"$part")))
  cross=$(jq '[.[] | select(.lender_name[0:2] != .borrower_name[0:2])] | length' <<<"$part")
  [ "$cross" = 0 ] && ok || bad "$n borrowed $cross leases across the partition while it lasted"
  cross_before=$((cross_before + $(jq -s --arg a "$t_part_ns" '[.[] | select((.records[0].time_ns | tonumber) < ($a | tonumber) and .lender_name[0:2] != .borrower_name[0:2])] | length' "audit-$n.jsonl")))
done
[ "$during" -ge 2 ] && ok || bad "only $during leases opened during the partition"
[ "$during_constrained" -ge 2 ] && ok || bad "only $during_constrained leases under the fr or de data class during the partition"
printf '{"test":"netns_partition","netem":%d,"partition_ms":%d,"leases_total":%d,"leases_cross_border_before_partition":%d,"leases_during_partition":%d,"leases_during_partition_fr_or_de_class":%d,"reconverge_ms":%d,"sockets_reset":%d}\n' \
  $netem $(((t_heal_ns - t_part_ns) / 1000000)) $total_leases $cross_before $during $during_constrained $reconverge_ms $sockets_reset
finish
