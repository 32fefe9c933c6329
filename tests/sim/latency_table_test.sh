#!/usr/bin/env bash
# sim.latency_table: sim/latency_table.c is what sim/gen_latency_table.sh
# makes of data/latency-eu-rtt-ms.csv today.
set -euo pipefail
root=${1:?usage: latency_table_test.sh REPO_ROOT}
if ! diff -u "$root/sim/latency_table.c" <("$root/sim/gen_latency_table.sh" "$root/data/latency-eu-rtt-ms.csv"); then
  echo "sim.latency_table: regenerate with sim/gen_latency_table.sh data/latency-eu-rtt-ms.csv > sim/latency_table.c"
  exit 1
fi
echo "sim.latency_table: ok"
