#!/usr/bin/env bash
# integration.slurm: the Slurm lease hook and demand adapter
# (hooks/slurm/) against a real single-host Slurm 22.05.
#
# Installs what is missing (slurm-wlm munge jq curl, python3 for the stub;
# apt-get update first), then starts a private cluster: munged on its own
# socket and key, slurmctld and slurmd on two free 127.0.0.1 ports, all
# state in one temp dir, no systemd, no /etc/slurm (every client gets
# SLURM_CONF). The node claims 16 cores (config_overrides). The daemons
# run in their own PID namespace when unshare allows it, so stopping them
# also kills every job step; otherwise jobs are cancelled and leftovers are
# found through /proc. Then it checks:
#   hook   granted (lender) -> a CoreCnt reservation for user fedmesh with
#          the lease's end; a repeat is success, other terms under the
#          same name fail; a future lease with CPUS_PER_CORE=2 and an
#          account; reclaim_notice moves its end (never later), and a
#          reclaim before the start removes it; a non-operator caller fails
#          with a hint; a gpu lease is refused; a borrower event does
#          nothing.
#   jobs   a fedmesh job in the reservation runs and completes inside it;
#          root and nobody are denied the reservation.
#   demand with a running and a pending job in the reservation, a running
#          local job, pending local jobs (one an array) and a held one,
#          --once posts exactly what squeue says (held and reserved jobs
#          left out) to a stub agent with the token; a wrong token (401),
#          a token file readable by others and an unreachable agent exit 1;
#          the loop posts every second and stops on SIGTERM; when the
#          fedmesh binary is given, the real agent takes the report.
#   ended  a reclaim while jobs run; ended without a working scancel ends
#          the reservation now and fails; ended cancels the reservation's
#          jobs (one ignores SIGTERM) and deletes it, leaving local jobs
#          alone; again: success; bad JSON and bad events exit 2.
# If Slurm cannot be installed or started here, it says why, loudly, and
# exits 77 (ctest: skipped). Every wait is bounded; every process it
# started is stopped and its temp dirs removed (trap). Needs root (slurmd
# starts jobs as other users). Leaves the system user fedmesh if it made it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
hooks=$(cd "$here/../../hooks/slurm" && pwd)
hook=$hooks/fedmesh-slurm-hook
demand=$hooks/fedmesh-slurm-demand
fedmesh=${1:-}
[ -n "$fedmesh" ] && fedmesh=$(realpath "$fedmesh")
. "$here/lib.sh"
started_s=$SECONDS

skip() {
  printf '\n*** SKIPPED integration.slurm: %s ***\n\n' "$*"
  exit 77
}

# --- What it needs -----------------------------------------------------------

[ "$(id -u)" -eq 0 ] || skip "needs root: slurmd must start jobs as the user fedmesh"
[ -d /proc/self ] || skip "no /proc"
[ -d /sys/fs/cgroup ] || skip "slurmd 22.05 needs /sys/fs/cgroup mounted, and it is not"
missing=()
for tool in slurmctld slurmd sbatch munged jq curl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages for: ${missing[*]}"
  packages=(slurm-wlm munge jq curl)
  command -v python3 >/dev/null || packages+=(python3)
  # slurm-wlm depends on slurmctld, slurmd and slurm-client only; without
  # --no-install-recommends apt would pull some 40 more packages.
  apt_log=$(mktemp /tmp/slurm_test.apt.XXXXXX) || exit 1
  if ! { timeout 240 env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    timeout 240 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${packages[@]}"; } >"$apt_log" 2>&1; then
    tail -n 5 "$apt_log"
    rm -f "$apt_log"
    skip "apt-get install ${packages[*]} failed (offline?); install them and run again"
  fi
  rm -f "$apt_log"
  for tool in slurmctld slurmd sbatch munged jq curl python3; do
    command -v "$tool" >/dev/null || skip "the packages installed no $tool"
  done
fi
if ! id fedmesh >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fedmesh ||
    skip "cannot create the user fedmesh"
  echo "created the system user fedmesh (it stays)"
fi

# Nothing from the caller's environment may steer a Slurm client here.
for v in $(compgen -e); do
  case $v in SLURM_* | SBATCH_* | SQUEUE_* | SINFO_* | SCONTROL_* | SCANCEL_* | FEDMESH_*) unset "$v" ;; esac
done

test_begin slurm
# The cluster lives under /tmp, not in $dir: jobs run as fedmesh and must
# reach it, and munge's socket path must stay short.
D=$(mktemp -d /tmp/fedmesh-slurm.XXXXXX) || exit 1
supervisor=''
pidns=0
loop=''
cleanup() {
  [ -n "$loop" ] && kill -KILL -- -"$loop" 2>/dev/null
  slurm_stop
  test_cleanup
  rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

# --- The cluster -------------------------------------------------------------

free_ports 2 $((17000 + ($$ * 5) % 20000)) || { bad "found only ${#ports[@]} free ports"; finish; }
mkdir -p "$D/jobs"
chown fedmesh "$D/jobs"
. "$here/slurm_cluster.sh"
slurm_cluster_start || skip "Slurm did not start here (no idle node within 30 s; logs above)"
echo "slurm up in $((SECONDS - started_s)) s (pid namespace: $pidns; ports ${ports[0]}, ${ports[1]})"

# --- Helpers -----------------------------------------------------------------

rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
slurm_time() { TZ=UTC date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }
new_id() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
# lease_json EVENT ROLE ID START_S END_S VCPU [RECLAIM_S [CLASS]]
lease_json() {
  jq -cn --arg e "$1" --arg r "$2" --arg id "$3" --arg s "$(rfc3339 "$4")" --arg t "$(rfc3339 "$5")" \
    --argjson sn "$4" --argjson tn "$5" --argjson v "$6" \
    --arg rc "${7:+$(rfc3339 "${7:-0}")}" --arg c "${8:-memory_gib}" \
    '{event: $e, role: $r, lease: {id: $id, peer: "peer-node-id", peer_name: "de-fra-1",
      resources: [{class: "vcpu", model: "", amount: $v}, {class: $c, model: (if $c == "gpu" then "H100" else "" end), amount: 2}],
      start: $s, end: $t, start_ns: ($sn * 1000000000), end_ns: ($tn * 1000000000),
      reclaim_at: (if $rc == "" then null else $rc end), data_class: ""}}'
}
# feed JSON [VAR=VALUE...]: the hook with JSON on its standard input.
feed() {
  local json=$1
  shift
  printf '%s' "$json" | timeout 60 env "$@" "$hook"
}
# res NAME: $line is the reservation's one-line description (1: none).
res() { line=$(timeout 10 scontrol -o show reservation "$1" 2>&1); }
# has TEXT DESCRIPTION: $line holds TEXT as a whole word.
has() {
  if [[ " $line " == *" $1 "* ]]; then ok; else bad "$2: '$1' not in: $line"; fi
}
job_state() { timeout 10 scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
job_is() { [ "$(job_state "$1")" = "$2" ]; }
# submit [sbatch options...]: as root; prints the job id.
submit() { timeout 10 sbatch --parsable --chdir="$D/jobs" -o /dev/null "$@" | cut -d';' -f1; }
submit_as_fedmesh() {
  timeout 10 runuser -u fedmesh -- sbatch --parsable --chdir="$D/jobs" -o /dev/null "$@" | cut -d';' -f1
}

now_s=$(date +%s)
id1=$(new_id)
r1=fedmesh-${id1:0:16}
end1_s=$((now_s + 3600))

# --- (a) granted -------------------------------------------------------------

granted1=$(lease_json granted lender "$id1" $((now_s - 5)) $end1_s 4)
expect 0 "granted" -- feed "$granted1"
contains "$dir/out" "reservation $r1 holds 4 cores" "granted says what it reserved"
if res "$r1"; then
  ok
  has "CoreCnt=4" "granted: cores"
  has "Users=fedmesh" "granted: user"
  has "State=ACTIVE" "granted: active now"
  has "EndTime=$(slurm_time $end1_s)" "granted: ends with the lease"
  has "TRES=cpu=4" "granted: cpus"
else
  bad "granted: no reservation $r1: $line"
fi
expect 0 "granted again (a repeated event)" -- feed "$granted1"
contains "$dir/out" "already exists" "the repeat says so"
expect 1 "granted again with other terms" -- feed "$(lease_json granted lender "$id1" $((now_s - 5)) $end1_s 6)"
contains "$dir/err" "already exists with other terms" "other terms: why"

# A future lease, 3 vCPUs on cores of 2, for an account too.
id2=$(new_id)
r2=fedmesh-${id2:0:16}
start2_s=$((now_s + 7200))
end2_s=$((now_s + 10800))
expect 0 "granted, future, 2 vCPUs per core, account" -- \
  feed "$(lease_json granted lender "$id2" $start2_s $end2_s 3)" FEDMESH_SLURM_CPUS_PER_CORE=2 FEDMESH_SLURM_ACCOUNT=acct1
if res "$r2"; then
  ok
  has "CoreCnt=2" "future: ceil(3 / 2) cores"
  has "Accounts=acct1" "future: account"
  has "State=INACTIVE" "future: not started"
  has "StartTime=$(slurm_time $start2_s)" "future: starts with the lease"
else
  bad "future: no reservation $r2: $line"
fi
reclaim2_s=$((start2_s + 1800))
expect 0 "reclaim_notice shortens" -- feed "$(lease_json reclaim_notice lender "$id2" $start2_s $end2_s 3 $reclaim2_s)"
res "$r2" && has "EndTime=$(slurm_time $reclaim2_s)" "reclaim: the new end"
expect 0 "reclaim_notice later than the end keeps it" -- \
  feed "$(lease_json reclaim_notice lender "$id2" $start2_s $end2_s 3 $((end2_s + 60)))"
res "$r2" && has "EndTime=$(slurm_time $reclaim2_s)" "a later reclaim does not lengthen it"
expect 0 "reclaim_notice before the start" -- \
  feed "$(lease_json reclaim_notice lender "$id2" $start2_s $end2_s 3 $((start2_s - 60)))"
if res "$r2"; then bad "a reclaim before the start left $r2: $line"; else ok; fi

id3=$(new_id)
as_nobody() { printf '%s' "$1" | timeout 30 runuser -u nobody -- env SLURM_CONF="$SLURM_CONF" "$hook"; }
expect 1 "granted, caller not a Slurm operator" -- as_nobody "$(lease_json granted lender "$id3" "$now_s" $end1_s 1)"
contains "$dir/err" "not a Slurm operator" "non-operator: the hint"
expect 1 "granted with a gpu" -- feed "$(lease_json granted lender "$id3" "$now_s" $end1_s 1 "" gpu)"
contains "$dir/err" "holds gpu" "gpu: why"
expect 0 "borrower granted" -- feed "$(lease_json granted borrower "$id3" "$now_s" $end1_s 1)"
if res "fedmesh-${id3:0:16}"; then bad "a borrower or refused event made a reservation"; else ok; fi

# --- (b) a job in the reservation ---------------------------------------------

jobb=$(timeout 10 runuser -u fedmesh -- sbatch --parsable --reservation="$r1" -c 2 -t 1 --chdir="$D/jobs" \
  -o "$D/jobs/b.out" --wrap 'echo "$SLURM_JOB_RESERVATION" >b.txt' | cut -d';' -f1)
if [ -n "$jobb" ] && wait_for 30 job_is "$jobb" COMPLETED; then ok; else bad "job $jobb in $r1 did not complete: $(job_state "$jobb")"; fi
[ "$(cat "$D/jobs/b.txt" 2>/dev/null)" = "$r1" ] && ok || bad "the job did not run in $r1: $(cat "$D/jobs/b.txt" "$D/jobs/b.out" 2>&1)"
timeout 10 scontrol -o show job "$jobb" | grep -q "Reservation=$r1 " && ok || bad "scontrol show job: not in $r1"
[ -z "$(timeout 10 squeue -h -j "$jobb" 2>/dev/null)" ] && ok || bad "squeue still shows job $jobb"
expect 1 "root's job in the fedmesh reservation" -- \
  timeout 10 sbatch --chdir=/tmp -o /dev/null --reservation="$r1" --wrap true
contains "$dir/err" "Access denied" "root is denied"
expect 1 "nobody's job in the fedmesh reservation" -- \
  timeout 10 runuser -u nobody -- sbatch --chdir=/tmp -o /dev/null --reservation="$r1" --wrap true
contains "$dir/err" "Access denied" "nobody is denied"

# --- (d) the demand adapter ----------------------------------------------------

# 16 cores: 4 reserved for fedmesh (2 run a fedmesh job, 3 more pend in it),
# 10 run a local job, 2 stay free, so 4 and 3 x 3 cores pend; a held 5
# pends too but is not demand.
# The running one ignores SIGTERM (so does its sleep): ended has to wait for
# Slurm's SIGKILL (KillWait=2).
jr=$(submit_as_fedmesh --reservation="$r1" -c 2 -t 10 --wrap 'trap "" TERM; sleep 300')
jrp=$(submit_as_fedmesh --reservation="$r1" -c 3 -t 10 --wrap 'sleep 300')
ja=$(submit -c 10 -t 10 --wrap 'sleep 300')
jb=$(submit -c 4 -t 10 --wrap 'sleep 300')
jc=$(submit -c 3 -t 10 --array=1-3 --wrap 'sleep 300')
jh=$(submit -c 5 -t 10 -H --wrap 'sleep 300')
[ -n "$jr" ] && [ -n "$jrp" ] && [ -n "$ja" ] && [ -n "$jb" ] && [ -n "$jc" ] && [ -n "$jh" ] && ok ||
  bad "submitting the demand jobs failed"
# sum SQUEUE_OPTIONS...: the CPUs of the jobs squeue lists, summed here
# without the adapter's filter.
sum() { timeout 10 squeue -h -r "$@" -o %C | awk '{ s += $1 } END { print s + 0 }'; }
settled() {
  job_is "$jr" RUNNING && job_is "$ja" RUNNING && job_is "$jb" PENDING && job_is "$jrp" PENDING &&
    [ "$(sum -t R)" = 12 ]
}
wait_for 30 settled || bad "the jobs did not settle: $(timeout 10 squeue -r -o '%i %t %C %v %r' | tr '\n' ';')"
pending_all=$(sum -t PD)
pending_resv=$(sum -t PD -R "$r1")
pending_held=$(sum -t PD -j "$jh")
running_all=$(sum -t R)
running_resv=$(sum -t R -R "$r1")
[ "$pending_all $pending_resv $pending_held $running_all $running_resv" = "21 3 5 12 2" ] && ok ||
  bad "squeue: pending $pending_all (reserved $pending_resv, held $pending_held), running $running_all (reserved $running_resv); wanted 21 3 5 12 2"
want_queued=$((pending_all - pending_resv - pending_held))
want_running=$((running_all - running_resv))

# The stub agent: answers POST /v1/load with 200 {"accepted": true} when
# the bearer token matches, else 401 with the agent's error shape; records
# every request as one JSON line.
cat >stub.py <<'EOF'
import http.server, json, sys
token = open(sys.argv[1]).read().strip()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        good = self.headers.get("Authorization") == "Bearer " + token
        with open("requests.jsonl", "a") as f:
            f.write(json.dumps({"path": self.path, "good_token": good,
                                "type": self.headers.get("Content-Type"),
                                "body": body.decode()}) + "\n")
        answer = {"accepted": True} if good else \
            {"error": {"code": "unauthorized", "message": "no token, or a wrong one"}}
        data = json.dumps(answer).encode()
        self.send_response(200 if good else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
open("stub.port.tmp", "w").write(str(server.server_address[1]))
__import__("os").rename("stub.port.tmp", "stub.port")
server.serve_forever()
EOF
make_token agent.token >/dev/null
python3 stub.py agent.token 2>stub.log &
pids+=($!)
wait_for 10 test -s stub.port || { bad "the stub agent did not start: $(cat stub.log)"; finish; }
stub=http://127.0.0.1:$(cat stub.port)

expect 0 "demand --once" -- timeout 60 "$demand" --once --url "$stub" --token-file agent.token
contains "$dir/out" "queued $want_queued, running $want_running" "demand --once says what it posted"
last_request() { tail -n 1 requests.jsonl 2>/dev/null; }
request=$(last_request)
[ "$(jq -r '.path' <<<"$request")" = /v1/load ] && [ "$(jq -r '.good_token' <<<"$request")" = true ] &&
  [ "$(jq -r '.type' <<<"$request")" = application/json ] && ok ||
  bad "demand: the request: $request"
body=$(jq -r '.body' <<<"$request")
want_body=$(jq -cn --argjson q "$want_queued" --argjson r "$want_running" \
  '{scheduler: "slurm-fedmeshtest", resources: [{class: "vcpu", queued: $q, running: $r}]}')
[ "$(jq -cS . <<<"$body")" = "$(jq -cS . <<<"$want_body")" ] && ok || bad "demand body: $body; wanted $want_body"
[ "$want_queued $want_running" = "13 10" ] && ok || bad "expected 13 queued and 10 running, squeue gives $want_queued $want_running"

make_token wrong.token >/dev/null
expect 1 "demand, wrong token (401)" -- timeout 60 "$demand" --once --url "$stub" --token-file wrong.token
contains "$dir/err" "HTTP 401: unauthorized: no token, or a wrong one" "401: the agent's error"
cp agent.token open.token
chmod 644 open.token
expect 1 "demand, token file readable by others" -- timeout 60 "$demand" --once --url "$stub" --token-file open.token
contains "$dir/err" "readable by others" "open token file: why"
free_ports 1 $((40000 + $$ % 20000)) || bad "no free port"
expect 1 "demand, no agent" -- timeout 60 "$demand" --once --url "http://127.0.0.1:${ports[0]}" --token-file agent.token
contains "$dir/err" "cannot reach the agent" "no agent: why"
expect 2 "demand, bad usage" -- timeout 60 "$demand" --once --url "ftp://x" --token-file agent.token

# The loop: two posts one second apart, then SIGTERM stops it at once.
count_before=$(wc -l <requests.jsonl)
# Its own process group, so that cleanup can kill its children too.
setsid "$demand" --interval 1 --url "$stub" --token-file agent.token >loop.out 2>&1 &
loop=$!
posts_after() { [ "$(wc -l <requests.jsonl)" -ge $((count_before + $1)) ]; }
wait_for 10 posts_after 2 && ok || bad "the loop did not post twice in 10 s: $(cat loop.out)"
kill -TERM $loop
stopped() { ! kill -0 $loop 2>/dev/null; }
wait_for 3 stopped && ok || bad "the loop did not stop within 3 s of SIGTERM"
wait $loop
rc=$?
[ $rc -eq 0 ] && ok || bad "the loop exited $rc on SIGTERM: $(cat loop.out)"
loop=''

# The real agent takes the report (its parser is strict).
if [ -n "$fedmesh" ] && [ -x "$fedmesh" ]; then
  free_ports 3 $((26000 + ($$ * 3) % 20000)) || bad "no free ports for the agent"
  admit_member n1 DE || bad "identity for the agent"
  cat >n1.ini <<EOF
[node]
name = n1
key_file = n1.key
certificate_file = n1.cert
root_public_key_file = root.key.pub
listen = tcp://127.0.0.1:${ports[0]}
control = tcp://127.0.0.1:${ports[1]}
[capacity]
vcpu_total = 16
[http]
listen = http://127.0.0.1:${ports[2]}
token_file = agent.token
EOF
  "$fedmesh" agent --config n1.ini 2>n1.log &
  agent=$!
  pids+=("$agent")
  api=http://127.0.0.1:${ports[2]}
  up() { curl -sf -m 2 -o /dev/null "$api/metrics"; }
  if wait_for 10 up; then
    expect 0 "demand --once to the real agent" -- timeout 60 "$demand" --once --url "$api" --token-file agent.token
    status=$(curl -sf -m 5 -H "Authorization: Bearer $(cat agent.token)" "$api/v1/status")
    jq -e --argjson q "$want_queued" --argjson r "$want_running" \
      '.load | tostring | test("slurm-fedmeshtest") and test("\"queued\":\($q)") and test("\"running\":\($r)")' \
      <<<"$status" >/dev/null && ok || bad "the agent's status does not hold the report: $(jq -c .load <<<"$status")"
  else
    bad "the fedmesh agent did not start: $(tail -n 5 n1.log)"
  fi
  kill -TERM "$agent" 2>/dev/null
  wait "$agent" 2>/dev/null
fi

# --- (c) ended ---------------------------------------------------------------

# A reclaim while jobs run on the node (Slurm then wants IGNORE_JOBS).
reclaim1_s=$((now_s + 600))
expect 0 "reclaim_notice, jobs running" -- feed "$(lease_json reclaim_notice lender "$id1" $((now_s - 5)) $end1_s 4 $reclaim1_s)"
res "$r1" && has "EndTime=$(slurm_time $reclaim1_s)" "reclaim with jobs: the new end"
job_is "$jr" RUNNING && ok || bad "reclaim stopped the job: $(job_state "$jr")"
# end_s_of NAME: the reservation's EndTime in seconds.
end_s_of() { res "$1" && TZ=UTC date -d "$(grep -o 'EndTime=[^ ]*' <<<"$line" | cut -d= -f2)" +%s; }
ended1=$(lease_json ended lender "$id1" $((now_s - 5)) $end1_s 4)
# Without scancel the jobs stay: the reservation ends now, and the hook fails.
expect 1 "ended, jobs that cannot be cancelled" -- feed "$ended1" FEDMESH_SCANCEL=false FEDMESH_SLURM_END_WAIT_S=0
contains "$dir/err" "could not be cancelled" "ended without scancel: why"
end1_now_s=$(end_s_of "$r1") && [ $((end1_now_s - $(date +%s))) -le 2 ] && [ $((end1_now_s - $(date +%s))) -ge -3 ] &&
  ok || bad "ended without scancel: $r1 does not end now: $line"
job_is "$jr" RUNNING && ok || bad "ended without scancel: the job is $(job_state "$jr")"
expect 0 "ended, with jobs in the reservation" -- feed "$ended1"
contains "$dir/out" "cancelling them" "ended: the jobs are cancelled"
gone() { ! res "$r1"; }
wait_for 10 gone && ok || bad "ended: $r1 still exists: $line"
# Cancelled: jr ignores SIGTERM, and stays COMPLETING until Slurm's SIGKILL.
job_gone() { [[ $(job_state "$1") =~ ^(CANCELLED|COMPLETING|)$ ]]; }
wait_for 10 job_gone "$jr" && wait_for 10 job_gone "$jrp" && ok ||
  bad "ended: the reservation's jobs were not cancelled: $(job_state "$jr") $(job_state "$jrp")"
job_is "$ja" RUNNING && ok || bad "ended touched a local job: $(job_state "$ja")"
expect 0 "ended again" -- feed "$(lease_json ended lender "$id1" $((now_s - 5)) $end1_s 4)"
contains "$dir/out" "already gone" "ended again says so"
expect 2 "bad JSON" -- feed '{"event": "ended", '
contains "$dir/err" "not valid JSON" "bad JSON: why"
expect 2 "unknown event" -- feed '{"event": "extended", "role": "lender", "lease": {"id": "00112233445566778899aabbccddeeff"}}'
expect 2 "missing id" -- feed '{"event": "ended", "role": "lender", "lease": {}}'
expect 2 "reclaim_notice without reclaim_at" -- \
  feed "$(lease_json reclaim_notice lender "$id1" "$now_s" $end1_s 4)"

echo "slurm test: $((SECONDS - started_s)) s"
finish
