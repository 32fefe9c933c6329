# shellcheck shell=bash
# tests/integration/slurm_cluster.sh: a private single-host Slurm 22.05
# cluster for an integration test (sourced, not a test: the ctest glob
# takes *_test.sh only). Factored out of slurm_test.sh unchanged, so that
# slurm_sweep_test.sh starts the same cluster. See slurm_test.sh's header
# for what the cluster is (munged, slurmctld, slurmd on 127.0.0.1, all
# state in $D, no systemd, a PID namespace when unshare allows it).

# slurm_cluster_start: starts the cluster in $D (an empty directory under
# /tmp: munge's socket path must stay short) on ports ${ports[0]} and
# ${ports[1]} (free_ports 2 ...). Sets supervisor, pidns and SLURM_CONF
# (exported). Returns 1, after printing the daemons' logs, when no node is
# idle within 30 s. Stop it with slurm_stop (from the caller's EXIT trap).
slurm_cluster_start() {
  chmod 755 "$D"
  mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log" "$D/run" "$D/jobs"
  chmod 755 "$D/munge"
  cat >"$D/slurm.conf" <<EOF
ClusterName=fedmeshtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
# Bind 127.0.0.1 (NodeAddr, SlurmctldHost) rather than every address.
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket.2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
MinJobAge=300
KillWait=2
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
MessageTimeout=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=16 ThreadsPerCore=1 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  chmod 644 "$D/slurm.conf"
  export SLURM_CONF=$D/slurm.conf
  dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 400 "$D/munge/munge.key"

  # The supervisor starts munged, waits for its socket, then the two Slurm
  # daemons, each in the foreground of a background job ($! is the daemon).
  cat >"$D/run/supervise.sh" <<EOF
munged -F --force --socket=$D/munge/munge.socket.2 --key-file=$D/munge/munge.key \
  --pid-file=$D/munge/munged.pid --log-file=$D/munge/munged.log \
  --seed-file=$D/munge/munged.seed --num-threads=2 &
echo \$! >$D/run/munged.bgpid
for _ in \$(seq 1 100); do [ -S $D/munge/munge.socket.2 ] && break; sleep 0.05; done
slurmctld -D -i -f $D/slurm.conf >$D/log/slurmctld.out 2>&1 &
echo \$! >$D/run/slurmctld.bgpid
slurmd -D -N localhost -f $D/slurm.conf >$D/log/slurmd.out 2>&1 &
echo \$! >$D/run/slurmd.bgpid
wait
EOF
  if [ "${MESH_SLURM_PIDNS:-1}" = 1 ] && unshare --pid --fork --kill-child --mount-proc true 2>/dev/null; then
    pidns=1
    unshare --pid --fork --kill-child --mount-proc bash "$D/run/supervise.sh" >"$D/log/supervisor.log" 2>&1 &
  else
    bash "$D/run/supervise.sh" >"$D/log/supervisor.log" 2>&1 &
  fi
  supervisor=$!
  wait_for 20 listening "${ports[0]}" && wait_for 30 node_idle || {
    cluster_log
    kill -0 "$supervisor" 2>/dev/null || echo "the daemons exited"
    return 1
  }
}

# kill_leftovers: job processes of this cluster that outlived slurmd (its
# steps are re-parented to init): slurmstepd, or anything that carries both
# our SLURM_CONF and a SLURM_JOB_ID. This shell carries SLURM_CONF too,
# and is spared.
kill_leftovers() {
  local p pid environ comm
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$pid" = $$ ] && continue
    environ=$(tr '\0' '\n' 2>/dev/null <"$p/environ") || continue
    [[ $environ == *"SLURM_CONF=$D/slurm.conf"* ]] || continue
    read -r comm 2>/dev/null <"$p/comm" || continue
    if [ "$comm" = slurmstepd ] || [[ $environ == *SLURM_JOB_ID=* ]]; then
      kill -KILL "$pid" 2>/dev/null
    fi
  done
}
slurm_stop() {
  [ -n "$supervisor" ] || return 0
  if [ $pidns -eq 1 ]; then
    # unshare dies, its child (the namespace's init) gets SIGKILL, and the
    # kernel kills everything else in the namespace, job steps included.
    kill -KILL "$supervisor" 2>/dev/null
    wait "$supervisor" 2>/dev/null
  else
    local name pid _
    timeout 10 squeue -h -o %A 2>/dev/null | xargs -r timeout 10 scancel 2>/dev/null
    for _ in $(seq 1 50); do
      [ -z "$(timeout 5 squeue -h -o %A 2>/dev/null)" ] && break
      sleep 0.1
    done
    for name in slurmd slurmctld munged; do
      read -r pid <"$D/run/$name.bgpid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done
    for _ in $(seq 1 30); do
      kill -0 "$supervisor" 2>/dev/null || break
      sleep 0.1
    done
    for name in slurmd slurmctld munged; do
      read -r pid <"$D/run/$name.bgpid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    kill -KILL "$supervisor" 2>/dev/null
    wait "$supervisor" 2>/dev/null
    kill_leftovers
  fi
  supervisor=''
}
cluster_log() {
  local f
  for f in "$D/log/supervisor.log" "$D/munge/munged.log" "$D/log/slurmctld.out" "$D/log/slurmd.out" \
    "$D/log/slurmd.log"; do
    [ -s "$f" ] && { echo "--- $f"; tail -n 8 "$f"; }
  done
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# 1 if it never does in SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
node_idle() { [ "$(timeout 10 sinfo -h -n localhost -o %T 2>/dev/null)" = idle ]; }
