#!/usr/bin/env bash
# bench.sim_gossip_scale: the scaling benchmark at N = 30 and 60, so that it
# cannot rot: the JSON has every field for both runs, both converged, and
# the events grow with N. Never a speed.
set -euo pipefail
fedmesh=${1:?usage: smoke.sh FEDMESH}
here=$(cd "$(dirname "$0")" && pwd)
out=$("$here/sim_gossip_scale" "$fedmesh" 30 60)
echo "$out"
fail=0
for key in nodes converged wall_s events events_per_s memory_per_node_mib max_rss_mib digest; do
  count=$(printf '%s' "$out" | grep -o "\"$key\":" | wc -l)
  if [ "$count" -ne 2 ]; then
    echo "bench.sim_gossip_scale: \"$key\" appears $count times, not 2"
    fail=1
  fi
done
if [ "$(printf '%s' "$out" | grep -o '"converged":true' | wc -l)" -ne 2 ]; then
  echo "bench.sim_gossip_scale: a run did not converge"
  fail=1
fi
events=($(printf '%s' "$out" | grep -o '"events":[0-9]*' | cut -d: -f2))
if [ "${#events[@]}" -ne 2 ] || [ "${events[1]}" -le "${events[0]}" ]; then
  echo "bench.sim_gossip_scale: events did not grow with N: ${events[*]}"
  fail=1
fi
exit $fail
