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
#SBATCH --cpus-per-task=2
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
bin="${FER_BIN:-$root/build/bin}"
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

# Coordinator (fer-coordinator, FER_COORDINATOR_BIN): a later stage of the project.
# Once it exists it is started here, on the first node of the allocation, before the
# ranks; until then there is nothing to start and this job trains without it.

echo "== fer-train job ${SLURM_JOB_ID:-(not under Slurm)}: ${SLURM_JOB_NAME:-fer-train}"
echo "== nodes: ${SLURM_JOB_NUM_NODES:-1} (${SLURM_JOB_NODELIST:-$(hostname -s)})"
echo "== tasks: ${SLURM_NTASKS:-1} (${SLURM_NTASKS_PER_NODE:-1} per node), threads per task: ${threads:-fer-train default}"
echo "== directory: $(pwd)"
command=("${launch[@]}" "$trainer" "${args[@]}")
echo "== command: ${command[*]}"
echo "== started: $(date -Is)"

rc=0
"${command[@]}" || rc=$?
echo "== finished: $(date -Is), exit code $rc"
exit "$rc"
