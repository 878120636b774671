#!/usr/bin/env bash
# fer-train as a Slurm batch job. Submit from the repository root, after creating
# the log directory (sbatch does not create it; without it the job fails at once and
# writes no log anywhere):
#
#   mkdir -p logs
#   sbatch slurm/train.sh                                        # configs/tiny.yaml
#   sbatch slurm/train.sh -c configs/cpu.yaml --set train.epochs=3
#   sbatch --nodes=2 --ntasks-per-node=4 slurm/train.sh -c configs/gpu.yaml
#
# Every argument goes to fer-train unchanged. Environment (all optional):
#   FER_CONFIG  config used when the arguments hold no -c/--config (default
#               configs/tiny.yaml; relative to the repository root)
#   FER_BIN     directory holding fer-train (default <repo>/build/bin)
#   FER_ROOT    repository root (default: the directory sbatch was run from)
#   FER_SHARDS  shard directory, passed as --set data.shards=...
#   FER_LAUNCHER  auto (default: srun when it offers PMIx, else mpirun) | srun | mpirun
#   FER_COORDINATOR  embedded (default: inside rank 0) | job: a fer-coordinator process
#               started here, on the job's first node, before the ranks, with a fresh
#               per-job token, stopped after them; its status page's address is logged
#   FER_COORDINATOR_HTTP_PORT  that process's status page port (default 0: any free port)
#   FER_COORDINATOR_ADDRESS    host:port of a coordinator that runs elsewhere (token in
#               FER_COORD_TOKEN); the ranks report there
#   FER_TIME_BUDGET  slurm: train.time_budget_minutes from the job's time left (less a
#               tenth, at least 2 minutes, for start-up and the final flush) | MINUTES |
#               unset: off
# One task (rank) per GPU; each task gets --cpus-per-task cores, passed on as
# --set train.threads=N and OMP_NUM_THREADS / OPENBLAS_NUM_THREADS. Arguments win
# over these settings (a later --set overrides an earlier one). Relative paths in the
# config (data.shards, checkpoint.dir) resolve against the job's working directory:
# the submit directory unless sbatch is given --chdir. See slurm/README.md.
#
#SBATCH --job-name=fer-train
# Nodes: raise for multi-node runs (sbatch --nodes=N ...); ranks = nodes x tasks per node.
#SBATCH --nodes=1
# Tasks per node = GPUs per node (one rank per GPU); on CPU nodes, 1-2 ranks per
# socket tend to beat one rank with many threads.
#SBATCH --ntasks-per-node=1
# GPU clusters: remove one '#' from the next line (and set the count to the tasks per
# node); it needs GPUs declared to Slurm (GresTypes=gpu, gres.conf). Leave it off on
# CPU-only clusters, where a GPU request makes the job unschedulable.
##SBATCH --gpus-per-node=1
# Cores per task: the trainer's intra-op threads (raise to cores per GPU on GPU nodes).
# 1 by default, so that --ntasks-per-node=N fits any node with N cores (a request
# larger than every node pends forever as "(PartitionConfig)"; see slurm/README.md).
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x-%j.out
set -euo pipefail

# Under sbatch this file runs from a copy in slurmd's spool directory, so its own path
# says nothing about the checkout: use FER_ROOT, else the submit directory; outside
# Slurm (bash slurm/train.sh) the script's directory works.
if [ -n "${FER_ROOT:-}" ]; then
  root="$FER_ROOT"
elif [ -n "${SLURM_SUBMIT_DIR:-}" ] && [ -d "$SLURM_SUBMIT_DIR/configs" ]; then
  root="$SLURM_SUBMIT_DIR"
elif [ -z "${SLURM_JOB_ID:-}" ]; then
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
else
  echo "fer-train job: cannot find the repository: submit from its root or set FER_ROOT" \
       "(submit directory: ${SLURM_SUBMIT_DIR:-unknown})" >&2
  exit 2
fi
# The tools: FER_BIN, else the checkout's build, else an installed copy (PREFIX/bin
# beside PREFIX/share/fer-cluster), else PATH.
bin="${FER_BIN:-$root/build/bin}"
if [ -z "${FER_BIN:-}" ] && [ ! -x "$bin/fer-train" ]; then
  if [ -x "$root/../../bin/fer-train" ]; then bin="$(cd "$root/../../bin" && pwd)"
  elif command -v fer-train >/dev/null; then bin="$(dirname "$(command -v fer-train)")"; fi
fi
trainer="$bin/fer-train"
if [ ! -x "$trainer" ]; then
  echo "fer-train job: $trainer not found or not executable (build first, or set FER_BIN)" >&2
  exit 2
fi

# Threads per task: the cores Slurm gave each task (outside Slurm: the trainer's default).
threads="${SLURM_CPUS_PER_TASK:-}"
if [ -n "$threads" ]; then export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"; fi

# Arguments: a config unless the caller gave one, then our settings, then the caller's
# (which therefore win).
has_config=0
for arg in "$@"; do
  case "$arg" in -c* | --config | --config=*) has_config=1 ;; esac
done
args=()
if [ "$has_config" = 0 ]; then
  config="${FER_CONFIG:-configs/tiny.yaml}"
  case "$config" in /*) ;; *) config="$root/$config" ;; esac
  args+=(-c "$config")
fi
if [ -n "$threads" ]; then args+=(--set "train.threads=$threads"); fi
if [ -n "${FER_SHARDS:-}" ]; then args+=(--set "data.shards=$FER_SHARDS"); fi
# The job's time limit as the training budget: the schedule then ends before Slurm
# kills the job, whatever the nodes' speed.
seconds_left() {  # squeue's %L: [days-]hours:minutes:seconds, MM:SS, or UNLIMITED
  local left days=0 h=0 m=0 sec=0
  left=$(squeue -h -j "$SLURM_JOB_ID" -o %L 2>/dev/null | head -n 1)
  case "$left" in "" | UNLIMITED | NOT_SET | INVALID) return 1 ;; esac
  if [[ "$left" == *-* ]]; then days=${left%%-*}; left=${left#*-}; fi
  IFS=: read -r -a parts <<<"$left"
  case ${#parts[@]} in
    3) h=${parts[0]} m=${parts[1]} sec=${parts[2]} ;;
    2) m=${parts[0]} sec=${parts[1]} ;;
    *) return 1 ;;
  esac
  echo $((((10#$days * 24 + 10#$h) * 60 + 10#$m) * 60 + 10#$sec))
}
case "${FER_TIME_BUDGET:-}" in
  "") ;;
  slurm)
    if [ -z "${SLURM_JOB_ID:-}" ]; then
      echo "fer-train job: FER_TIME_BUDGET=slurm outside a Slurm job" >&2; exit 2
    fi
    left=$(seconds_left) || { echo "fer-train job: FER_TIME_BUDGET=slurm: the job has no time limit (sbatch --time)" >&2; exit 2; }
    # Kept back: a tenth of the time, at least 2 minutes (start-up, the last
    # validation, checkpoint flush); at least one minute of training.
    reserve=$((left / 10 > 120 ? left / 10 : 120))
    budget=$(awk -v s=$((left - reserve)) 'BEGIN { m = s / 60; if (m < 1) m = 1; printf "%.1f", m }')
    echo "fer-train job: time budget $budget minutes (the job has $((left / 60)) minutes left)"
    args+=(--set "train.time_budget_minutes=$budget")
    ;;
  *)
    [[ "$FER_TIME_BUDGET" =~ ^[0-9]+([.][0-9]+)?$ ]] ||
      { echo "fer-train job: FER_TIME_BUDGET must be 'slurm' or minutes, got '$FER_TIME_BUDGET'" >&2; exit 2; }
    args+=(--set "train.time_budget_minutes=$FER_TIME_BUDGET")
    ;;
esac
args+=("$@")

# Launcher: srun with PMIx (the only srun plugin Debian's Open MPI initialises under),
# else mpirun inside the allocation, which learns the nodes and slots from Slurm.
# Outside Slurm: one process, directly.
launcher="${FER_LAUNCHER:-auto}"
case "$launcher" in
  auto | srun | mpirun) ;;
  *) echo "fer-train job: FER_LAUNCHER=$launcher: expected auto, srun or mpirun" >&2; exit 2 ;;
esac
if [ -z "${SLURM_JOB_ID:-}" ]; then
  launcher=none
elif [ "$launcher" = auto ]; then
  launcher=mpirun
  if srun --mpi=list 2>&1 | grep -qw pmix; then launcher=srun; fi
fi
case "$launcher" in
  none) launch=() ;;
  srun) launch=(srun --mpi=pmix --cpus-per-task="${threads:-1}" --kill-on-bad-exit=1) ;;
  mpirun)
    if [ "$(id -u)" = 0 ]; then
      export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
    # --bind-to none: each rank runs `threads` threads; the default core binding
    # would put them all on one core.
    launch=(mpirun -np "${SLURM_NTASKS:-1}" --bind-to none)
    if [ -n "$threads" ]; then launch+=(-x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS); fi ;;
esac

# Coordinator: embedded in rank 0 unless asked for otherwise. With FER_COORDINATOR=job
# it runs as its own process here, on the batch host (the allocation's first node),
# listening on every interface with a token only this job's ranks read (mode 600, in
# the job's checkpoint tree), and it outlives a crashed rank: metrics and checkpoints
# stay served. The checkpoints go where fer-train's checkpoint.dir says (default
# checkpoints/ in the working directory); pass --set checkpoint.dir=... as usual.
coordinator_pid=""
stop_coordinator() {
  if [ -n "$coordinator_pid" ]; then
    kill "$coordinator_pid" 2>/dev/null || true
    wait "$coordinator_pid" 2>/dev/null || true
    coordinator_pid=""
  fi
}
trap stop_coordinator EXIT
if [ -n "${FER_COORDINATOR_ADDRESS:-}" ]; then
  args=(--set "coordinator.address=$FER_COORDINATOR_ADDRESS" "${args[@]}")
elif [ "${FER_COORDINATOR:-embedded}" = job ]; then
  checkpoint_dir=checkpoints
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in checkpoint.dir=*) checkpoint_dir="${args[$i]#checkpoint.dir=}" ;; esac
  done
  mkdir -p "$checkpoint_dir"
  token_file="$checkpoint_dir/.token-${SLURM_JOB_ID:-$$}"
  (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file")
  coordinator_log="$checkpoint_dir/.coordinator-${SLURM_JOB_ID:-$$}.log"
  "$bin/fer-coordinator" --listen 0.0.0.0 --port 0 --http-port "${FER_COORDINATOR_HTTP_PORT:-0}" \
    --checkpoints "$checkpoint_dir" --token-file "$token_file" >"$coordinator_log" 2>&1 &
  coordinator_pid=$!
  coordinator_port=""
  for _ in $(seq 1 100); do
    coordinator_port=$(sed -nE 's/^fer-coordinator: serving .* on [^ ]*:([0-9]+);.*/\1/p' "$coordinator_log" | head -1)
    [ -n "$coordinator_port" ] && break
    kill -0 "$coordinator_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$coordinator_port" ]; then
    cat "$coordinator_log" >&2
    echo "fer-train job: fer-coordinator did not start (log above)" >&2
    exit 1
  fi
  coordinator_host=$(hostname)
  http_port=$(sed -nE 's/.*status page http:\/\/[^:]*:([0-9]+)\/.*/\1/p' "$coordinator_log" | head -1)
  echo "== coordinator: fer-coordinator pid $coordinator_pid on $coordinator_host:$coordinator_port${http_port:+, status page http://$coordinator_host:$http_port/} (log $coordinator_log)"
  args=(--set "coordinator.address=$coordinator_host:$coordinator_port"
        --set "coordinator.token_file=$(cd "$(dirname "$token_file")" && pwd)/$(basename "$token_file")" "${args[@]}")
fi

echo "== fer-train job ${SLURM_JOB_ID:-(not under Slurm)}: ${SLURM_JOB_NAME:-fer-train}"
echo "== nodes: ${SLURM_JOB_NUM_NODES:-1} (${SLURM_JOB_NODELIST:-$(hostname -s)})"
echo "== tasks: ${SLURM_NTASKS:-1} (${SLURM_NTASKS_PER_NODE:-1} per node), threads per task: ${threads:-fer-train default}"
echo "== directory: $(pwd)"
command=("${launch[@]}" "$trainer" "${args[@]}")
echo "== command: ${command[*]}"
echo "== started: $(date -Is)"

rc=0
"${command[@]}" || rc=$?
stop_coordinator
echo "== finished: $(date -Is), exit code $rc"
exit "$rc"
