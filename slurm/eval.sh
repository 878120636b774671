#!/usr/bin/env bash
# fer-eval as a Slurm batch job (one task). Submit from the repository root after
# `mkdir -p logs` (sbatch does not create it):
#   sbatch slurm/eval.sh ARGS...      # every argument goes to fer-eval
# Environment: FER_BIN (default <repo>/build/bin), FER_ROOT (default: the submit
# directory). fer-eval is a later stage of the project; until it is built this job
# stops with exit code 2.
#SBATCH --job-name=fer-eval
#SBATCH --nodes=1
#SBATCH --ntasks=1
# GPU clusters: remove one '#' to evaluate on a GPU (see train.sh).
##SBATCH --gpus-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
#SBATCH --output=logs/%x-%j.out
set -euo pipefail

root="${FER_ROOT:-${SLURM_SUBMIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}}"
eval_bin="${FER_BIN:-$root/build/bin}/fer-eval"
# Not built here: an installed copy (PREFIX/bin beside PREFIX/share/fer-cluster), else PATH.
if [ -z "${FER_BIN:-}" ] && [ ! -x "$eval_bin" ]; then
  if [ -x "$root/../../bin/fer-eval" ]; then eval_bin="$root/../../bin/fer-eval"
  elif command -v fer-eval >/dev/null; then eval_bin="$(command -v fer-eval)"; fi
fi
if [ ! -x "$eval_bin" ]; then
  echo "fer-eval job: fer-eval is not built yet (looked for $eval_bin)" >&2
  exit 2
fi
threads="${SLURM_CPUS_PER_TASK:-1}"
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
echo "== fer-eval job ${SLURM_JOB_ID:-(not under Slurm)} on $(hostname -s): $eval_bin $*"
exec "$eval_bin" "$@"
