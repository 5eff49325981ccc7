#!/usr/bin/env bash
# A single-node Slurm 22.05 (Debian's slurm-wlm) with two fake GPUs, for
# tests/integration/test_slurm.py and the jobs conformance suite (slurm://debug).
#   scripts/servers/slurm.sh start|stop   (normally through scripts/services.sh)
# Needs root (apt-get, and slurmd runs jobs as their owner). Ports on 127.0.0.1: slurmctld
# 19150, slurmd 19151, srun 19160-19179 (the daemons bind 0.0.0.0; only the port is ours).
# Config, state and logs live in $LAB/slurm; writes $LAB/slurm.env with SLURM_CONF,
# PORTACLOUD_JOBS_TARGET_SLURM and PORTACLOUD_TEST_SLURM_CONF. Safe to run twice.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
mkdir -p "$LAB"
LAB=$(cd "$LAB" && pwd)   # slurm.conf needs absolute paths

S="$LAB/slurm"
CONF="$S/etc/slurm.conf"
PARTITION=debug
MUNGE_PID=/run/munge/munged.pid

install_packages() {
  local missing=()
  for bin in munged slurmctld slurmd sbatch; do
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("$bin")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
}

alive() {  # alive PIDFILE: the process named there is running
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

write_config() {
  local host gpus cpus
  # At least 6 CPUs, declared (config_overrides) where the machine has fewer: a rolling update
  # of 2 one-CPU service replicas with a surge of 1 and a scale to 3 need 3 jobs at once.
  cpus=$(( $(nproc) < 6 ? 6 : $(nproc) ))
  host=$(hostname -s)
  mkdir -p "$S"/{etc,state,spool,log,run,fakegpu}
  # Other users (slurmd drops to the job owner; tools run as nobody) must reach the config.
  chmod a+rx "$LAB" "$S" "$S/etc"
  # Symlinks to /dev/null named nvidia0/1: slurmd accepts them as devices (plain files are
  # refused as "not a valid character or block device") and sets CUDA_VISIBLE_DEVICES.
  ln -sfn /dev/null "$S/fakegpu/nvidia0"
  ln -sfn /dev/null "$S/fakegpu/nvidia1"
  gpus="$S/fakegpu/nvidia[0-1]"
  cat >"$CONF" <<CONF
ClusterName=portacloud
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=19150
SlurmdPort=19151
SrunPortRange=19160-19179
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$S/log/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=3600
KillWait=5
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=4000 Gres=gpu:fake:2 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  cat >"$S/etc/gres.conf" <<CONF
AutoDetect=off
NodeName=$host Name=gpu Type=fake File=$gpus
CONF
  chmod a+r "$CONF" "$S/etc/gres.conf"
}

start_munge() {
  if alive "$MUNGE_PID"; then
    return 0  # ours from an earlier start, or the host's own (systemd): either will do
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 755 /run/munge
  # munged writes its pid file only under /run/munge: it cannot write to a root-owned $LAB.
  runuser -u munge -- /usr/sbin/munged
  touch "$S/run/munged.ours"
}

wait_idle() {
  local state=""
  for _ in $(seq 150); do
    state=$(SLURM_CONF="$CONF" sinfo -h -p "$PARTITION" -o %T 2>/dev/null | head -n1 || true)
    case "$state" in idle | mixed | allocated) return 0 ;; esac
    sleep 0.2
  done
  echo "the node is not idle after 30 s (state: ${state:-none})" >&2
  tail -n 20 "$S/log/slurmctld.log" "$S/log/slurmd.log" >&2 || true
  return 1
}

write_env() {
  cat >"$LAB/slurm.env" <<ENV
export SLURM_CONF=$CONF
export PORTACLOUD_JOBS_TARGET_SLURM=slurm://$PARTITION
export PORTACLOUD_SERVICES_TARGET_SLURM=slurm://$PARTITION
export PORTACLOUD_TEST_SLURM_CONF=$CONF
ENV
}

start() {
  if [ "$(id -u)" != 0 ]; then
    echo "slurm.sh needs root: it installs Debian packages and runs slurmd" >&2
    return 1
  fi
  if alive "$S/run/slurmctld.pid" && alive "$S/run/slurmd.pid"; then
    write_env
    echo "slurm already running (slurmctld $(cat "$S/run/slurmctld.pid"))"
    return 0
  fi
  stop_daemons  # half of it may be up from an interrupted start
  install_packages
  write_config
  start_munge
  # Podman's configuration (runc, ulimits, the loopback registry) for the daemons; jobs get
  # the submitter's own through sbatch --export=ALL.
  containers_conf "$LAB"
  # -f: our config, never /etc/slurm. slurmctld keeps StateSaveLocation across restarts, so
  # jobs of an earlier run stay known (as on a real cluster).
  slurmctld -f "$CONF"
  slurmd -f "$CONF"
  wait_idle
  # Jobs recovered from an earlier run would hold the fake GPUs (one whose slurmd died can
  # stay RUNNING for a long time): tests expect a free cluster, as the other servers start
  # empty. Job ids keep counting, so ids handed out before never name a new job.
  SLURM_CONF="$CONF" scancel --partition="$PARTITION" 2>/dev/null || true
  write_env
  echo "slurm up: partition $PARTITION, SLURM_CONF=$CONF"
}

stop_daemons() {
  # slurmd first (it reports to slurmctld), then slurmctld; slurmscriptd exits with it.
  # slurmd needs 1-2 s to exit: a second one started before that would run beside it.
  stop_pid "$S/run/slurmd.pid"
  stop_pid "$S/run/slurmctld.pid"
}

stop() {
  stop_daemons
  if [ -e "$S/run/munged.ours" ]; then
    stop_pid "$MUNGE_PID"
    rm -f "$S/run/munged.ours"
  fi
  rm -f "$LAB/slurm.env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
