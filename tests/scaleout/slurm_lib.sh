# A private one-node Slurm cluster on localhost, without systemd, for tests/scaleout/*.
# Sourced, not run. slurm_start WORKDIR starts munged, slurmctld and slurmd (each with its own
# files under WORKDIR, on free ports) and waits until the node is idle; slurm_stop stops each
# daemon by its pid. Measured facts (issue 9): batch_sched_delay=0 saves ~2 s per round of
# tasks; kill_invalid_depend is what cancels a dependent job whose dependency failed in 22.05;
# config_overrides lets the node offer more slots than the machine has cores.

SLURM_PIDS=()
SLURM_NODE=pidxnode

# A TCP port nobody listens on (bash's /dev/tcp: a refused connection means free).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

slurm_start() {
  local w="$1"
  mkdir -p "$w/munge" "$w/state" "$w/spool" "$w/log"
  chmod 0755 "$w/munge"
  mungekey --create --keyfile="$w/munge/munge.key" --force >/dev/null 2>&1 ||
    { dd if=/dev/urandom of="$w/munge/munge.key" bs=1024 count=1 2>/dev/null; }
  chmod 0400 "$w/munge/munge.key"
  munged --force --key-file="$w/munge/munge.key" --socket="$w/munge/munge.socket" \
    --pid-file="$w/munge/munged.pid" --log-file="$w/log/munged.log" \
    --seed-file="$w/munge/munged.seed" || return 1
  SLURM_PIDS+=("$(cat "$w/munge/munged.pid")")

  local ctld_port slurmd_port host
  ctld_port=$(free_port) && slurmd_port=$(free_port) || return 1
  host=$(hostname -s)
  export SLURM_CONF="$w/slurm.conf"
  cat >"$SLURM_CONF" <<CONF
ClusterName=pidxtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$w/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$w/state
SlurmdSpoolDir=$w/spool/%n
SlurmctldPidFile=$w/slurmctld.pid
SlurmdPidFile=$w/slurmd.pid
SlurmctldLogFile=$w/log/slurmctld.log
SlurmdLogFile=$w/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
InactiveLimit=0
KillWait=5
PlugStackConfig=$w/plugstack.conf
NodeName=$SLURM_NODE NodeHostname=$host NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN
PartitionName=pidx Nodes=$SLURM_NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  : >"$w/plugstack.conf"

  slurmctld -i -f "$SLURM_CONF" || return 1
  slurm_wait_pidfile "$w/slurmctld.pid" || return 1
  slurmd -N "$SLURM_NODE" -f "$SLURM_CONF" || return 1
  slurm_wait_pidfile "$w/slurmd.pid" || return 1

  local state
  for _ in $(seq 1 150); do
    state=$(sinfo -h -n "$SLURM_NODE" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && return 0
    sleep 0.2
  done
  echo "node $SLURM_NODE not idle after 30 s (state: ${state:-none})" >&2
  return 1
}

slurm_wait_pidfile() {
  for _ in $(seq 1 100); do
    if [ -s "$1" ]; then
      SLURM_PIDS+=("$(cat "$1")")
      return 0
    fi
    sleep 0.1
  done
  echo "no pid file $1" >&2
  return 1
}

slurm_stop() {
  local pid
  for pid in "${SLURM_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SLURM_PIDS[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  SLURM_PIDS=()
}

# slurm_wait_jobs JOBID...: polls squeue until none of the jobs is pending or running
# (sbatch --wait noticed finished jobs up to 30 s late).
slurm_wait_jobs() {
  local ids
  ids=$(IFS=,; echo "$*")
  for _ in $(seq 1 600); do
    [ -z "$(squeue -h -j "$ids" -o %i 2>/dev/null)" ] && return 0
    sleep 0.2
  done
  echo "jobs $ids still queued after 120 s" >&2
  squeue >&2
  return 1
}

# The JobState of a job (of every task of an array, one per line).
slurm_job_state() {
  scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'
}
