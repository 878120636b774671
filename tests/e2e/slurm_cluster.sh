# A throw-away single-node Slurm cluster for the end-to-end tests (GUIDE section 5):
# munged, slurmctld and slurmd on this machine, with their configuration, state and
# logs under $WORK/slurm. Source after lib.sh (it needs $WORK and fail), then:
#   slurm_cluster_start        # exits 77 (CTest: skipped) when it cannot run here
#   ... sbatch / srun / sinfo, with SLURM_CONF pointing at the test's slurm.conf ...
#   slurm_cluster_stop         # also runs from the EXIT trap, even after a failure
# It never touches a Slurm that already runs here (the test is skipped instead), and
# reuses a working munged instead of starting a second one; the munged it starts
# itself it also stops. Left behind on purpose: /etc/munge/munge.key when it had to
# create one, and the /run/munge directory (both as the munge package would make them).
# Every wait has a deadline.
# shellcheck shell=bash

SLURM_CLUSTER_DIR=""    # $WORK/slurm while the cluster runs
_slurm_rc=0
_slurm_root=()           # prefix for commands that need root: empty, or sudo -n
_slurm_munged_pid=""     # the munged this library started (empty: none, or reused)
_slurm_daemon_pids=()    # slurmctld, slurmd
_slurm_old_stepds=" "    # slurmstepd pids that existed before the cluster started
_slurm_launched=0        # 1 once slurmctld has been started

slurm_cluster_skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# slurm_wait_until SECONDS DESCRIPTION CMD... : polls CMD every 0.2 s until it succeeds;
# returns 1 (after saying what it waited for) when SECONDS have passed.
slurm_wait_until() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "slurm_cluster: gave up after ${seconds} s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

# Gone: no such process, or a zombie (exited; its parent, maybe a container's init
# that does not reap, has not collected it). /proc, not kill -0, which fails on
# another user's live process.
slurm_pid_gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }   # the state letter follows the parenthesised command name
  [ "${stat:0:1}" = Z ]
}
# slurm_running NAME : a live (not zombie) process of that exact name exists
slurm_running() {
  local pid
  for pid in $(pgrep -x "$1" || true); do
    slurm_pid_gone "$pid" || return 0
  done
  return 1
}
_slurm_munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
_slurm_node_idle() { [ "$(timeout 10 sinfo -h -o %T 2>/dev/null)" = idle ]; }
_slurm_no_jobs() { [ -z "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]; }
_slurm_read_pid() { [ -s "$1" ] && cat "$1"; }

# Checks everything the cluster needs; exits 77 with the reason when something lacks.
slurm_cluster_require() {
  PATH="$PATH:/usr/sbin:/sbin"
  local tool
  for tool in slurmctld slurmd munged munge unmunge sbatch srun sinfo squeue scancel scontrol runuser; do
    command -v "$tool" >/dev/null ||
      slurm_cluster_skip "$tool not found (Debian: apt-get install slurmctld slurmd slurm-client munge)"
  done
  if [ "$(id -u)" = 0 ]; then
    _slurm_root=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    _slurm_root=(sudo -n)
  else
    slurm_cluster_skip "the Slurm daemons need root: run as root or with passwordless sudo"
  fi
  if slurm_running slurmctld || slurm_running slurmd; then
    slurm_cluster_skip "a Slurm daemon already runs on this machine; not starting a second cluster beside it"
  fi
}

_slurm_write_conf() {
  local dir=$1 node=$2 cpus mem_mib
  cpus=$(nproc)
  [ "$cpus" -ge 2 ] || cpus=2   # config_overrides lets the node claim more than it has
  mem_mib=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  cat >"$dir/slurm.conf" <<EOF
ClusterName=fertest
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mib
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

_slurm_start_munge() {
  if slurm_running munged; then
    _slurm_munge_works ||
      slurm_cluster_skip "a munged already runs here but munge -n | unmunge fails; not starting a second one"
    echo "slurm_cluster: reusing the running munged"
    return 0
  fi
  local key=/etc/munge/munge.key pidfile=/run/munge/munged.pid
  if ! "${_slurm_root[@]}" test -e "$key"; then
    echo "slurm_cluster: creating $key"
    "${_slurm_root[@]}" install -d -o munge -g munge -m 0700 /etc/munge
    "${_slurm_root[@]}" sh -c "umask 077 && dd if=/dev/urandom of='$key' bs=1024 count=1 status=none"
    "${_slurm_root[@]}" chown munge:munge "$key"
    "${_slurm_root[@]}" chmod 0400 "$key"
  fi
  "${_slurm_root[@]}" install -d -o munge -g munge -m 0755 /run/munge
  "${_slurm_root[@]}" rm -f "$pidfile"   # stale: no munged runs
  "${_slurm_root[@]}" runuser -u munge -- munged ||
    fail "munged did not start (see /var/log/munge/munged.log)"
  slurm_wait_until 10 "munged's pid file $pidfile" _slurm_read_pid "$pidfile" || fail "munged wrote no pid file"
  _slurm_munged_pid=$(cat "$pidfile")
  slurm_wait_until 10 "munge -n | unmunge to succeed" _slurm_munge_works || fail "munged does not answer"
}

# Starts munged (unless one works), slurmctld and slurmd; waits for the node to be idle.
slurm_cluster_start() {
  slurm_cluster_require
  local dir="$WORK/slurm" node
  node=$(hostname -s)
  mkdir -p "$dir/state" "$dir/spool" "$dir/run" "$dir/log"
  _slurm_write_conf "$dir" "$node"
  export SLURM_CONF="$dir/slurm.conf"
  SLURM_CLUSTER_DIR=$dir
  # From here on, the EXIT trap stops the cluster before lib.sh's removal of $WORK.
  trap '_slurm_rc=$?; slurm_cluster_stop; rm -rf "$WORK"; exit $_slurm_rc' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP

  _slurm_old_stepds=" $(pgrep -x slurmstepd | tr '\n' ' ' || true) "
  _slurm_start_munge
  _slurm_launched=1
  "${_slurm_root[@]}" slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -n 20 "$dir/log/slurmctld.log" 2>&1)"
  slurm_wait_until 15 "slurmctld's pid file" _slurm_read_pid "$dir/run/slurmctld.pid" || fail "slurmctld wrote no pid file"
  _slurm_daemon_pids+=("$(cat "$dir/run/slurmctld.pid")")
  "${_slurm_root[@]}" slurmd -f "$SLURM_CONF" || fail "slurmd did not start: $(tail -n 20 "$dir/log/slurmd.log" 2>&1)"
  slurm_wait_until 15 "slurmd's pid file" _slurm_read_pid "$dir/run/slurmd.pid" || fail "slurmd wrote no pid file"
  _slurm_daemon_pids+=("$(cat "$dir/run/slurmd.pid")")
  if ! slurm_wait_until 30 "sinfo to report the node idle" _slurm_node_idle; then
    timeout 10 sinfo -N -l >&2 || true
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    fail "the test cluster did not come up"
  fi
  echo "slurm_cluster: node $node idle (config $SLURM_CONF)"
}

# Cancels the jobs, shuts slurmctld and slurmd down, ends the munged it started, and
# waits for each to exit (escalating to SIGKILL past the deadline). Idempotent; never
# fails (it runs from the EXIT trap).
slurm_cluster_stop() {
  [ -n "$SLURM_CLUSTER_DIR" ] || return 0
  local pid pids=("${_slurm_daemon_pids[@]}") file
  for file in "$SLURM_CLUSTER_DIR"/run/slurmctld.pid "$SLURM_CLUSTER_DIR"/run/slurmd.pid; do
    # a daemon that started but had not been recorded when start failed
    pid=$(cat "$file" 2>/dev/null || true)
    case " ${pids[*]} " in *" $pid "*) ;; *) [ -z "$pid" ] || pids+=("$pid") ;; esac
  done
  [ -z "$_slurm_munged_pid" ] || pids+=("$_slurm_munged_pid")
  if [ "$_slurm_launched" = 1 ]; then
    timeout 10 scancel --partition=debug >/dev/null 2>&1 || true
    slurm_wait_until 20 "the cancelled jobs to end" _slurm_no_jobs || true
    timeout 10 scontrol shutdown >/dev/null 2>&1 || true
  fi
  for pid in "${pids[@]}"; do
    if [ "$pid" = "$_slurm_munged_pid" ]; then "${_slurm_root[@]}" kill "$pid" 2>/dev/null || true; fi
    if ! slurm_wait_until 20 "process $pid to exit" slurm_pid_gone "$pid"; then
      "${_slurm_root[@]}" kill -KILL "$pid" 2>/dev/null || true
      slurm_wait_until 5 "process $pid to die" slurm_pid_gone "$pid" || true
    fi
  done
  # Job steps outlive a slurmd shutdown: end those this cluster started, if any are
  # left (none when scancel worked).
  for pid in $(pgrep -x slurmstepd || true); do
    case "$_slurm_old_stepds" in *" $pid "*) ;; *) "${_slurm_root[@]}" kill -KILL "$pid" 2>/dev/null || true ;; esac
  done
  # The daemons' state and spool files belong to root.
  if [ ${#_slurm_root[@]} -gt 0 ]; then "${_slurm_root[@]}" rm -rf "$SLURM_CLUSTER_DIR" || true; fi
  SLURM_CLUSTER_DIR=""
  _slurm_launched=0
  _slurm_daemon_pids=()
  _slurm_munged_pid=""
}
