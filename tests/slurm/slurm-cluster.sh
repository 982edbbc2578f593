#!/usr/bin/env bash
# A real single-machine Slurm for tests and benches: munged with a private key and socket,
# slurmctld, and one slurmd per fake node n1..nN, all on free ports, all state under DIR.
#   slurm-cluster.sh start DIR [NODES [CPUS]]   prints nothing; DIR/env holds SLURM_CONF
#   slurm-cluster.sh stop DIR                   stops every daemon it started (idempotent)
# Facts this follows (DESIGN.md §6): slurmd needs TmpFS=…/%n or PMIx steps collide, clients read
# SLURM_CONF, slurmd started before the controller answers costs ~1 s of retries.
set -euo pipefail

die() { echo "slurm-cluster: $*" >&2; exit 1; }

free_ports() {  # N distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

all_idle() {  # every node idle (or mixed/allocated: usable) and none down
  local states
  states=$(sinfo -h -N -o '%t' 2>/dev/null) || return 1
  [ "$(echo "$states" | grep -c .)" -eq "$1" ] || return 1
  ! echo "$states" | grep -qvE '^(idle|mix|alloc)$'
}

start() {
  local dir=$1 nodes=${2:-3} cpus=${3:-16}
  for cmd in munged slurmctld slurmd scontrol sinfo; do
    command -v "$cmd" >/dev/null || die "$cmd not found (scripts/install-deps.sh installs slurm)"
  done
  [ "$(id -u)" -eq 0 ] || die "needs root (slurmd runs jobs as their users)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/state" "$dir/spool" "$dir/tmp" "$dir/log" "$dir/munge"
  chmod 711 "$dir/munge"
  head -c 1024 /dev/urandom > "$dir/munge/key"
  chmod 400 "$dir/munge/key"
  local ports; read -r -a ports <<< "$(free_ports $((nodes + 1)))"
  local host; host=$(hostname -s)
  {
    echo "ClusterName=ionettest"
    echo "SlurmctldHost=$host(127.0.0.1)"
    echo "SlurmctldPort=${ports[0]}"
    echo "SlurmUser=root"
    echo "AuthType=auth/munge"
    echo "AuthInfo=socket=$dir/munge/socket"
    echo "CredType=cred/munge"
    echo "StateSaveLocation=$dir/state"
    echo "SlurmdSpoolDir=$dir/spool/%n"
    echo "TmpFS=$dir/tmp/%n"
    echo "SlurmctldPidFile=$dir/slurmctld.pid"
    echo "SlurmdPidFile=$dir/slurmd-%n.pid"
    echo "SlurmctldLogFile=$dir/log/slurmctld.log"
    echo "SlurmdLogFile=$dir/log/slurmd-%n.log"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "SchedulerType=sched/backfill"
    echo "SchedulerParameters=batch_sched_delay=0"
    echo "AccountingStorageType=accounting_storage/none"
    echo "JobCompType=jobcomp/filetxt"
    echo "JobCompLoc=$dir/jobcomp.txt"
    echo "JobAcctGatherType=jobacct_gather/none"
    echo "ReturnToService=2"
    echo "MpiDefault=none"
    echo "SlurmdParameters=config_overrides"
    echo "KillWait=5"
    echo "MinJobAge=300"
    echo "SlurmctldTimeout=10"
    echo "SlurmdTimeout=30"
    # A client gives up on an unreachable controller after about MessageTimeout (default 10 s,
    # ~9 s a command): the tests that stop Slurm on purpose need not wait that long, and every
    # RPC of a one-machine cluster answers in milliseconds.
    echo "MessageTimeout=3"
    echo "InactiveLimit=0"
    for ((i = 1; i <= nodes; i++)); do
      echo "NodeName=n$i NodeHostname=localhost NodeAddr=127.0.0.1 Port=${ports[$i]} CPUs=$cpus State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=n[1-$nodes] Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
  } > "$dir/slurm.conf"
  echo "export SLURM_CONF=$dir/slurm.conf" > "$dir/env"
  export SLURM_CONF=$dir/slurm.conf

  munged -F --force --socket="$dir/munge/socket" --key-file="$dir/munge/key" \
    --pid-file="$dir/munge/pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" >> "$dir/log/munged.out" 2>&1 &
  echo $! > "$dir/munged.pid"
  wait_for 10 test -S "$dir/munge/socket" || die "munged did not start (see $dir/log/munged.log)"

  slurmctld -D -i -f "$dir/slurm.conf" >> "$dir/log/slurmctld.out" 2>&1 &
  echo $! > "$dir/slurmctld.daemon.pid"
  wait_for 20 bash -c 'scontrol ping | grep -q UP' ||
    die "slurmctld did not come up (see $dir/log/slurmctld.log)"
  for ((i = 1; i <= nodes; i++)); do
    mkdir -p "$dir/tmp/n$i" "$dir/spool/n$i"
    slurmd -D -f "$dir/slurm.conf" -N "n$i" >> "$dir/log/slurmd-n$i.out" 2>&1 &
    echo $! > "$dir/slurmd-n$i.daemon.pid"
  done
  wait_for 30 all_idle "$nodes" ||
    die "nodes did not become idle: $(sinfo -h -N -o '%N %t %E' | tr '\n' ';') (logs in $dir/log)"
}

stop_pid_file() {  # TERM the process in $1, KILL it after 5 s
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_for 5 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 bash -c "! kill -0 $pid" || true
  fi
  rm -f "$file"
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  export SLURM_CONF=$dir/slurm.conf
  # Jobs first, so that no slurmstepd outlives its slurmd.
  scancel --full --quiet -u root 2>/dev/null || true
  for f in "$dir"/slurmd-*.daemon.pid; do stop_pid_file "$f"; done
  stop_pid_file "$dir/slurmctld.daemon.pid"
  stop_pid_file "$dir/munged.pid"
  # What a killed slurmd leaves: its job steps' slurmstepd and their tasks.
  pkill -KILL -f "slurmstepd.*$dir" 2>/dev/null || true
}

case "${1:-}" in
  start) [ $# -ge 2 ] || die "usage: $0 start DIR [NODES [CPUS]]"; start "$2" "${3:-3}" "${4:-16}" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 start DIR [NODES [CPUS]] | stop DIR" ;;
esac
