#!/usr/bin/env bash
# fer-serve as a Slurm job: serves a run's best checkpoint from a compute node, following
# it while a training job improves it (hot reload). From the repository root:
#   mkdir -p logs
#   head -c 24 /dev/urandom | base64 > serve.token && chmod 600 serve.token
#   sbatch slurm/serve.sh -k myrun                  # any fer-serve arguments after the script
#   grep 'serving' logs/serve-<jobid>.out           # the URL (the node's name and port)
#   curl -H "Authorization: Bearer $(cat serve.token)" --data-binary @photo.jpg http://NODE:8080/v1/predict
# Off loopback fer-serve needs a token: FER_SERVE_TOKEN_FILE (default ./serve.token).
# scancel sends SIGTERM: fer-serve finishes the requests in flight and exits 0.
#SBATCH --job-name=fer-serve
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=4
#SBATCH --time=08:00:00
#SBATCH --output=logs/serve-%j.out
set -euo pipefail
# The job runs where sbatch was called (or in sbatch --chdir): paths are relative to it.
bin="${FER_BIN:-build/bin}"
[ -x "$bin/fer-serve" ] || bin="$(dirname "$(command -v fer-serve || echo ./fer-serve)")"
token_file="${FER_SERVE_TOKEN_FILE:-serve.token}"
[ -f "$token_file" ] || { echo "slurm/serve.sh: error: no token file $token_file (see the header)" >&2; exit 2; }
threads="${SLURM_CPUS_PER_TASK:-0}"
echo "slurm/serve.sh: job ${SLURM_JOB_ID:-?} on $(hostname)"
# exec: scancel's SIGTERM reaches fer-serve itself.
exec "$bin/fer-serve" --listen 0.0.0.0 --port "${FER_SERVE_PORT:-8080}" --token-file "$token_file" \
  --threads "$threads" "$@"
