#!/usr/bin/env bash
# slurm/train.sh on a real single-node Slurm cluster (munged, slurmctld, slurmd started
# here, in $WORK; skipped with exit 77 where that cannot be done): `sbatch --wait` of a
# 2-task job trains the tiny preset to a complete run directory, with its log in
# logs/fer-train-<jobid>.out; a job whose fer-train fails makes sbatch --wait fail;
# afterwards no daemon of the test cluster is left.
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"   # cds into $WORK
source "$here/slurm_cluster.sh"
slurm_cluster_require   # skip (77) before doing any work
unset FER_CONFIG FER_SHARDS FER_LAUNCHER   # slurm/train.sh's settings: its defaults here

"$FER_BIN/fer-synth" --out synth --images 1500 --format csv --seed 5 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q

slurm_cluster_start

# submit NAME SBATCH_AND_SCRIPT_ARGS... : sbatch --wait from the repository root (as
# slurm/README.md says; FER_ROOT unset so train.sh finds the checkout through the
# submit directory), the job running in $WORK, where logs/ exists. Sets $job and $rc.
mkdir -p logs
submit() {
  local name=$1
  shift
  rc=0
  (cd "$FER_ROOT" && env -u FER_ROOT timeout 600 sbatch --wait --parsable --chdir="$WORK" "$@") \
    >"$name.sbatch" 2>&1 || rc=$?
  job=$(grep -Eo '^[0-9]+' "$name.sbatch" | head -n 1 || true)
  [ "$rc" != 124 ] || fail "sbatch --wait ($name) still waiting after 600 s"
  [ -n "$job" ] || { cat "$name.sbatch" >&2; fail "sbatch ($name) printed no job id"; }
  log="$WORK/logs/fer-train-$job.out"
  [ -f "$log" ] || { cat "$name.sbatch" >&2; fail "job $job ($name) left no log $log"; }
}

# fail_job MESSAGE : shows the job's log, then fails
fail_job() {
  cat "$log" >&2
  fail "$*"
}

# 0. A request no node can hold is refused at once by slurm/submit.sh (sbatch alone
#    would leave it pending forever as "(PartitionConfig)").
node_cpus=$(sinfo -h -o "%c" | sort -n | tail -1)
rc=0
(cd "$FER_ROOT" && bash slurm/submit.sh --ntasks-per-node=2 --cpus-per-task="$node_cpus" --wait slurm/train.sh) >impossible.out 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat impossible.out; fail "slurm/submit.sh accepted 2 x $node_cpus CPUs on a $node_cpus-CPU node (rc $rc)"; }
grep -q "the job would pend forever" impossible.out || { cat impossible.out; fail "no reason given"; }
squeue -h | grep -q . && fail "a job was queued for the impossible request"

# 1. Two ranks of the tiny preset, one core each: the README's command as documented
#    (the script's header asks 1 CPU per task, so 2 tasks fit a 2-CPU node).
submit train --ntasks-per-node=2 slurm/train.sh \
  --set train.epochs=2 --set data.shards="$WORK/shards/synth" \
  --set checkpoint.dir="$WORK/runs" --run slurm-e2e
[ "$rc" = 0 ] || fail_job "sbatch --wait of the training job $job returned $rc (log above)"
grep -q "^== fer-train job $job" "$log" || fail_job "no launch header in $log"
grep -q "^== tasks: 2 (2 per node), threads per task: 1" "$log" || fail_job "the job did not run 2 tasks x 1 thread"
grep -q "^== command: .*fer-train -c $FER_ROOT/configs/tiny.yaml --set train.threads=1" "$log" ||
  fail_job "the job did not default to configs/tiny.yaml with 1 thread"
grep -q "summary of $WORK/runs/slurm-e2e" "$log" || fail_job "no summary table in $log"
grep -q "^== finished: .*exit code 0" "$log" || fail_job "no exit code 0 at the end of $log"
# The two tasks formed one job of 2 ranks (not two separate trainers).
grep -q "2 ranks x 1 threads" "$log" || fail_job "fer-train did not run as 2 ranks"
grep -q "dist: mpi all-reduce" "$log" || fail_job "no gradient all-reduce in $log"
for f in latest.pt best.pt manifest.json; do
  [ -e "runs/slurm-e2e/$f" ] || fail_job "no runs/slurm-e2e/$f"
done
echo "training job $job: ok"

# 1b. The same with the coordinator as a process of the job (FER_COORDINATOR=job): it
#     starts on the batch host before the ranks, keeps the run, and is gone afterwards.
submit coordinated --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 \
  --export=ALL,FER_COORDINATOR=job slurm/train.sh --set train.epochs=2 \
  --set data.shards="$WORK/shards/synth" --set checkpoint.dir="$WORK/runs" --run slurm-coord
[ "$rc" = 0 ] || fail_job "the job with its own fer-coordinator returned $rc (log above)"
grep -q "^== coordinator: fer-coordinator pid" "$log" || fail_job "no coordinator line in $log"
grep -q "coordinator: fer-coordinator at .*:[0-9]*$" "$log" || fail_job "fer-train did not use the job's coordinator"
python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; sys.exit(0 if [x["epoch"] for x in l]==[1,2] and all(x["ranks"]==2 for x in l) else 1)' \
  runs/slurm-coord/metrics.jsonl || fail_job "the job's coordinator did not aggregate both ranks' epochs"
coordinator_pid=$(sed -nE 's/^== coordinator: fer-coordinator pid ([0-9]+) .*/\1/p' "$log")
! kill -0 "$coordinator_pid" 2>/dev/null || fail_job "the job's fer-coordinator ($coordinator_pid) outlived the job"
echo "training job $job with its own coordinator: ok"

# 1c. FER_TIME_BUDGET=slurm: the budget comes from the job's time limit (--time=10:
#     10 minutes less 2 kept back = 8.0); the epoch cap of 1 ends this job early.
submit budget --ntasks=1 --cpus-per-task=1 --time=10 --export=ALL,FER_TIME_BUDGET=slurm \
  slurm/train.sh --set train.epochs=1 --set data.shards="$WORK/shards/synth" \
  --set checkpoint.dir="$WORK/runs" --run slurm-budget
[ "$rc" = 0 ] || fail_job "the budgeted job returned $rc (log above)"
grep -qE "^fer-train job: time budget (7\.[5-9]|8\.0) minutes" "$log" || fail_job "no budget from the job's time limit in $log"
grep -q "time budget: 7:[0-9][0-9] of training and validation\|time budget: 8:00 of training" "$log" ||
  fail_job "fer-train did not get the job's budget"
echo "budgeted job $job: ok"

# 2. A job whose fer-train fails (unknown key: exit 2) fails sbatch --wait.
submit bad --ntasks=1 --cpus-per-task=1 slurm/train.sh --set optim.lrr=1
[ "$rc" != 0 ] || fail_job "sbatch --wait returned 0 for the failing job $job"
echo "failing job $job: sbatch --wait returned $rc"
grep -q "optim.lrr" "$log" || fail_job "the failing job's log does not name optim.lrr"
grep -q "^== finished: .*exit code 2" "$log" || fail_job "train.sh did not report fer-train's exit code 2"

# 2b. slurm/serve.sh: fer-serve as a job on the node, serving the budgeted run; it
#     answers with the token and refuses without it; scancel's SIGTERM ends it cleanly.
head -c 24 /dev/urandom | base64 >serve.token
chmod 600 serve.token
serve_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve_job=$(cd "$FER_ROOT" && env -u FER_ROOT FER_SERVE_PORT="$serve_port" sbatch --parsable --chdir="$WORK" \
  --cpus-per-task=1 slurm/serve.sh --checkpoints-dir runs -k slurm-budget)
log="$WORK/logs/serve-$serve_job.out"
for _ in $(seq 600); do grep -q "^fer-serve: serving" "$log" 2>/dev/null && break; sleep 0.1; done
grep -q "^fer-serve: serving .*slurm-budget.* on http://0.0.0.0:$serve_port/.*token required" "$log" ||
  fail_job "the serve job did not start serving within 60 s"
# http_get PATH [TOKEN] : "STATUS BODY" of a GET to the serve job (Python's standard
# library: curl is not among the packages the tests install).
http_get() {
  python3 - "http://127.0.0.1:$serve_port$1" "${2:-}" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]} if sys.argv[2] else {})
try:
    with urllib.request.urlopen(req, timeout=30) as r: print(r.status, r.read().decode())
except urllib.error.HTTPError as e: print(e.code, e.read().decode())
PY
}
health=$(http_get /healthz)
case "$health" in "200 "*'"status":"ok"'*'"run":"slurm-budget"'*) ;; *) fail_job "healthz: $health" ;; esac
[ "$(http_get /v1/model | cut -d' ' -f1)" = 401 ] || fail_job "the serve job answered without its token"
[ "$(http_get /v1/model "$(cat serve.token)" | cut -d' ' -f1)" = 200 ] || fail_job "the serve job refused its token"
scancel "$serve_job"
for _ in $(seq 300); do grep -q "stopped by SIGTERM" "$log" && break; sleep 0.1; done
grep -q "fer-serve: stopped by SIGTERM" "$log" || fail_job "scancel did not stop fer-serve cleanly"
echo "serve job $serve_job: served, refused without the token, stopped by scancel"

# 3. Shut down: no daemon of this cluster survives.
daemons="${_slurm_daemon_pids[*]} $_slurm_munged_pid"   # munged: only when the test started it
slurm_cluster_stop
for pid in $daemons; do slurm_pid_gone "$pid" || fail "daemon $pid still runs after the shutdown"; done
for daemon in slurmctld slurmd slurmstepd; do
  ! slurm_running "$daemon" || fail "a $daemon still runs"
done
echo "e2e slurm_train: ok ($SECONDS s)"
