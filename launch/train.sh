#!/usr/bin/env bash
# Data-parallel fer-train on one workstation: mpirun with one rank per GPU (or, on a
# CPU machine, 2 ranks), each rank bound to its own cores with threads = cores / ranks
# (measured on a 2-core VM: 2 ranks x 1 thread train 35% faster than 1 process x 2
# threads). Every argument goes to fer-train unchanged.
#   bash launch/train.sh -c configs/cpu.yaml
#   FER_RANKS=4 bash launch/train.sh -c configs/gpu.yaml --set train.epochs=300
#   bash launch/train.sh -c configs/cpu.yaml --resume auto
# Environment:
#   FER_RANKS    ranks (default: the GPUs nvidia-smi lists; without GPUs 2, or 1 on a
#                one-core machine)
#   FER_THREADS  intra-op threads per rank (default: cores / ranks, at least 1)
#   FER_BIN      directory holding fer-train (default: build/bin of this checkout)
#   FER_MPIRUN_ARGS  extra mpirun arguments (e.g. "--hostfile hosts" for several nodes)
# For a Slurm cluster use slurm/train.sh instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The tools: FER_BIN, else this checkout's build, else an installed copy (cmake --install
# puts this script in PREFIX/share/fer-cluster/launch and the tools in PREFIX/bin), else PATH.
bin="${FER_BIN:-$root/build/bin}"
if [ -z "${FER_BIN:-}" ] && [ ! -x "$bin/fer-train" ]; then
  if [ -x "$root/../../bin/fer-train" ]; then bin="$(cd "$root/../../bin" && pwd)"
  elif command -v fer-train >/dev/null; then bin="$(dirname "$(command -v fer-train)")"; fi
fi
[ -x "$bin/fer-train" ] || { echo "launch/train.sh: $bin/fer-train not found (build first: bash launch/setup.sh)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "launch/train.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 2; }

cores=$(nproc)
gpus=0
if command -v nvidia-smi >/dev/null; then gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi
if [ "$gpus" -gt 0 ]; then default_ranks=$gpus; elif [ "$cores" -ge 2 ]; then default_ranks=2; else default_ranks=1; fi
ranks="${FER_RANKS:-$default_ranks}"
threads="${FER_THREADS:-$(( cores / ranks > 0 ? cores / ranks : 1 ))}"
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "launch/train.sh: FER_RANKS must be a positive integer, got '$ranks'" >&2; exit 2; }
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "launch/train.sh: FER_THREADS must be a positive integer, got '$threads'" >&2; exit 2; }

# Each rank on its own cores when they suffice; otherwise share them unbound.
if [ $((ranks * threads)) -le "$cores" ]; then
  placement=(--map-by "slot:PE=$threads" --bind-to core)
else
  placement=(--oversubscribe --bind-to none)
fi
# Open MPI refuses root without explicit consent (containers, CI).
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

echo "launch/train.sh: $ranks ranks x $threads threads on $cores cores${gpus:+ ($gpus GPUs)}: $bin/fer-train" >&2
# shellcheck disable=SC2086  # FER_MPIRUN_ARGS is a list of words on purpose
exec mpirun -np "$ranks" "${placement[@]}" -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS ${FER_MPIRUN_ARGS:-} \
  "$bin/fer-train" --set "train.threads=$threads" "$@"
