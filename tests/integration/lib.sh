# shellcheck shell=bash
# tests/integration/lib.sh: the harness the integration tests share
# (sourced, not a test: the ctest glob takes *_test.sh only). The helpers
# expect $fedmesh and run in the test's directory.

# test_begin NAME: makes the scratch directory $dir under MESH_TEST_TMPDIR
# and cds there; at exit, every pid in the array `pids` is killed and $dir
# removed. ok, bad and finish count and report checks.
test_begin() {
  local base=${MESH_TEST_TMPDIR:-/tmp}
  mkdir -p "$base"
  dir=$(mktemp -d "$base/$1.XXXXXX") || exit 1
  pids=()
  passed=0
  failed=0
  trap test_cleanup EXIT
  cd "$dir" || exit 1
}
test_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${MESH_TEST_KEEP:-}" ]; then
    echo "MESH_TEST_KEEP: kept $dir" >&2
    return
  fi
  rm -rf "$dir"
}
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }
# expect CODE DESCRIPTION -- COMMAND...: runs COMMAND, checks its exit code,
# leaves its stdout in $dir/out and stderr in $dir/err.
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$dir/out" 2>"$dir/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, wanted $want: $(head -c 300 "$dir/err")"; fi
}
# contains FILE TEXT DESCRIPTION
contains() { if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(head -c 300 "$1")"; fi; }
finish() {
  printf '%d passed, %d failed\n' "$passed" "$failed"
  [ "$failed" -eq 0 ]
  exit $?
}

# free_ports COUNT FIRST: sets the array `ports` to COUNT TCP ports at
# or above FIRST that nothing listens on; returns 1 when 400 tries are not
# enough.
free_ports() {
  local count=$1 first=$2 p
  # Below the kernel's ephemeral range (32768 and up here): a port there can
  # be taken by any outgoing connection between the check and the bind,
  # which made tests running side by side (ctest -j) fail now and then.
  if [ "$first" -ge 12000 ]; then first=$((12000 + (first - 12000) % 20000)); fi
  if [ $((first + 400)) -ge 32768 ]; then first=$((first - 400)); fi
  ports=()
  for p in $(seq "$first" $((first + 400))); do
    ss -Htuln "sport = :$p" 2>/dev/null | grep -q . || ports+=("$p")
    [ ${#ports[@]} -eq "$count" ] && return 0
  done
  return 1
}

# admit_member NAME COUNTRY [ADMIT OPTIONS...]: NAME.key and NAME.cert, signed
# by root.key (made first if missing).
admit_member() {
  local name=$1 country=$2
  shift 2
  [ -f root.key ] || "$fedmesh" federation init --out root.key >/dev/null || return 1
  "$fedmesh" keygen --out "$name.key" >/dev/null &&
    "$fedmesh" federation admit --root root.key --pubkey "$name.key.pub" --name "$name" \
      --country "$country" "$@" --out "$name.cert" >/dev/null
}

# make_token FILE: writes a fresh random bearer token to FILE (mode 0600)
# and prints it.
make_token() {
  local token
  token=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
  (umask 077; printf '%s\n' "$token" >"$1")
  printf '%s' "$token"
}

# lease_agent_ini NAME INDEX: the config of agent NAME (INDEX 0..2) of the
# three-agent lease tests (leases, ledger_audit, record_replay), on
# ports[INDEX] (gossip), ports[INDEX + 3] (control) and ports[INDEX + 6]
# (HTTP), seeded by agent 0: quick gossip and lease timings, 64 of 128
# vCPUs lendable, a ledger. A test appends its own sections.
lease_agent_ini() {
  local n=$1 i=$2
  cat <<INI
[node]
name = $n
key_file = $n.key
certificate_file = $n.cert
root_public_key_file = root.key.pub
listen = tcp://127.0.0.1:${ports[$i]}
control = tcp://127.0.0.1:${ports[$((i + 3))]}
seeds = tcp://127.0.0.1:${ports[0]}

[capacity]
vcpu_total = 128
vcpu_lendable = 64
price_microeur_per_vcpu_hour = 20000
carbon_gco2_per_kwh = $((40 + i))

[gossip]
probe_interval_ms = 200
probe_timeout_ms = 80
suspicion_min_ms = 400
suspicion_max_ms = 1200

[lease]
offer_ttl_ms = 1000
usage_interval_s = 1

[http]
listen = http://127.0.0.1:${ports[$((i + 6))]}
token_file = token

[ledger]
path = $n.ledger
INI
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s until it
# succeeds (0) or SECONDS have passed (1).
wait_until() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# leases_unsettled NAME: how many leases agent NAME (NAME.ini) holds that
# are not settled, plus those in flight (GET /v1/leases); "unknown" when
# the agent does not answer.
leases_unsettled() {
  "$fedmesh" leases --config "$1.ini" --json 2>/dev/null |
    jq '[.leases[] | select(.state != "settled")] + .in_flight | length' 2>/dev/null || echo unknown
}

# stop_agents: sends SIGTERM to every pid in `pids` (SIGCONT first, for a
# stopped one), checks that each exits 0, and empties `pids`.
stop_agents() {
  local pid rc
  for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    wait "$pid"
    rc=$?
    [ $rc -eq 0 ] && ok || bad "agent $pid exited $rc on SIGTERM"
  done
  pids=()
  sanitizer_reports
}

# sanitizer_reports: prints the start of every sanitizer report in the
# test directory's logs (an agent under ASan or TSan that aborted), so that
# a failure in CI can be read without the directory.
sanitizer_reports() {
  local log
  for log in "$dir"/*.log "$dir"/*/*.log; do
    [ -f "$log" ] || continue
    grep -qE '^(==[0-9]+==ERROR|WARNING: ThreadSanitizer|SUMMARY: |.*runtime error:)' "$log" || continue
    echo "--- sanitizer report in ${log#"$dir"/}:"
    grep -m1 -A40 -E '^(==[0-9]+==ERROR|WARNING: ThreadSanitizer|.*runtime error:)' "$log"
  done
}
