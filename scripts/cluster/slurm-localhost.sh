#!/usr/bin/env bash
# A real one-machine SLURM for testing the cluster scripts: munge, slurmctld and slurmd on this host, one node
# with this machine's cores, one partition "debug". Needs root; installs slurm-wlm and munge when missing.
# Idempotent: a running cluster is left as it is.   scripts/cluster/slurm-localhost.sh [stop]
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "slurm-localhost: needs root (it writes /etc/slurm and starts daemons)" >&2
  exit 1
fi
if [[ "${1:-}" == "stop" ]]; then
  pkill -x slurmd || true
  pkill -x slurmctld || true
  echo "slurm-localhost: stopped"
  exit 0
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
node=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
cat > /etc/slurm/slurm.conf <<CONF
# Written by sne's scripts/cluster/slurm-localhost.sh: a one-node test cluster.
ClusterName=sne-localhost
SlurmctldHost=$node(127.0.0.1)
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmUser=root
KillWait=30
JobRequeue=1
MpiDefault=none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
if [[ ! -s /etc/munge/munge.key ]]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c "/usr/sbin/munged" || /usr/sbin/munged --force
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
for _ in $(seq 60); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
  if [[ "$state" == idle* || "$state" == mix* || "$state" == alloc* ]]; then
    echo "slurm-localhost: node $node ($cpus CPUs) is $state"
    exit 0
  fi
  sleep 1
done
echo "slurm-localhost: the node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
sinfo -N >&2 || true
exit 1
