#!/usr/bin/env bash
# sim.run_ai_gpu: scenarios/ai-gpu.ini, sites whose GPU demand follows the
# Azure LLM inference trace: the leases are GPU leases of the scenario's
# model (the ledgers' checker counts GPUs), every job is replayed, some run
# on borrowed GPUs, and the tail wait falls below the sites' alone.
set -euo pipefail
fedmesh=${1:?usage: fed_gpu_test.sh FEDMESH SOURCE_DIR}
source_dir=${2:?}
csv=$source_dir/data/workload-azure-llm-code-gpu.csv
out=$("$fedmesh" sim run "$source_dir/scenarios/ai-gpu.ini" --compare --json)
q() { jq -r "$1" <<<"$out"; }
fail() { echo "sim.run_ai_gpu: $*"; exit 1; }
[ "$(q .resource)" = gpu:H100 ] || fail "resource $(q .resource)"
[ "$(q .invariant_violations)" = 0 ] && [ "$(q .policy_violations)" = 0 ] ||
  fail "violations: $(q .invariant_violations) invariant, $(q .policy_violations) policy"
# Within the 50 min window, Paris replays the trace from its start,
# Frankfurt from 5 min in and Milan from 2 min in (trace_offset); a scale
# makes jobs wider, never more numerous.
expected=$(awk -F, 'NR > 1 { if (t0 == "" || $2 < t0) t0 = $2; t[NR] = $2 }
  END { for (i in t) { d = t[i] - t0
          n += (d < 3000) + (d >= 300 && d < 3300) + (d >= 120 && d < 3120) }
        print n }' "$csv")
[ "$(q .jobs_total)" = "$expected" ] || fail "jobs_total $(q .jobs_total), the windows hold $expected"
[ "$(q .jobs_burst)" -gt 0 ] || fail "no job on borrowed GPUs"
[ "$(q .baseline.jobs_burst)" = 0 ] || fail "the baseline borrowed"
awk -v a="$(q .wait_s_p95)" -v b="$(q .baseline.wait_s_p95)" 'BEGIN { exit !(a < b) }' ||
  fail "wait_s_p95 $(q .wait_s_p95) s is not below the baseline's $(q .baseline.wait_s_p95) s"
echo "sim.run_ai_gpu: ok: $(q .jobs_total) jobs, $(q .jobs_burst) on borrowed GPUs, wait p95 $(q .wait_s_p95) s vs $(q .baseline.wait_s_p95) s"
