#!/usr/bin/env bash
# Data-parallel fer-train under mpiexec, end to end with real processes:
#  1. equivalence: 2 ranks x batch b == 1 rank x b with 2 accumulated micro-batches
#     (the exact single-process equivalent of 2 x b: BatchNorm sees the same
#     per-micro-batch statistics); parameters compared after 12 steps;
#  2. evaluation split across ranks counts every val image exactly once;
#  3. resume of a 2-rank run;
#  4. a configuration mismatch between ranks is reported (rank and key), not hung;
#  5. a failure on one rank only (missing shards) ends the whole job with its message;
#  6. dist.backend=nccl on a machine without a GPU fails at start with a clear message;
#  7. a stalled rank (SIGSTOP) makes the other exit within the deadline, naming it;
#  8. a killed rank (SIGKILL) ends the job, naming it.
source "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
train="$FER_BIN/fer-train"

"$FER_BIN/fer-synth" --out synth --images 1500 --format csv --seed 5 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
val_images=$(json_get shards/synth/manifest.json "m['splits']['val']['images']")
common=(-c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth --set checkpoint.dir=runs
        --set model.head_dropout=0 --set data.batch_size=8 --set data.limit_train_images=96
        --set train.deterministic=true --set train.threads=1 -q)

# 1. Equivalence (dropout off: masks are drawn per rank).
mpiexec -np 2 "$train" "${common[@]}" --set train.epochs=2 --run two-ranks >two.log 2>&1 || { cat two.log; fail "2-rank run failed"; }
"$train" "${common[@]}" --set train.epochs=2 --set optim.accumulation_steps=2 --run one-rank >one.log 2>&1 || { cat one.log; fail "1-rank run failed"; }
diff_line=$("$FER_BIN/fer-test-checkpoint-diff" runs/two-ranks/latest.pt runs/one-rank/latest.pt)
echo "2 ranks x 8 vs 1 rank x 8 x 2 micro-batches: $diff_line"
python3 -c "import sys; r = float(sys.argv[1].split()[-1]); sys.exit(0 if r <= 1e-6 else 1)" "$diff_line" ||
  fail "2 ranks diverged from the accumulated single-rank run: $diff_line (tolerance 1e-6 relative)"
# The check can fail: a run with another data order differs.
"$train" "${common[@]}" --set train.epochs=2 --set optim.accumulation_steps=2 --set train.seed=2 --run other-seed >/dev/null 2>&1
other=$("$FER_BIN/fer-test-checkpoint-diff" runs/two-ranks/latest.pt runs/other-seed/latest.pt)
python3 -c "import sys; r = float(sys.argv[1].split()[-1]); sys.exit(0 if r > 1e-3 else 1)" "$other" ||
  fail "the comparison cannot tell different runs apart: $other"

# 2. Validation counted once across ranks: the job's confusion matrix holds every val image.
counted=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; print(r["val_images"], sum(r["val_confusion_matrix"]))' runs/two-ranks/metrics.jsonl)
[ "$counted" = "$val_images $val_images" ] || fail "val images counted: $counted, expected $val_images twice"

# 3. Resume under 2 ranks: stop after epoch 1, continue to 2, same parameters as the
#    uninterrupted 2-rank run.
mpiexec -np 2 "$train" "${common[@]}" --set train.epochs=2 --run resumed --stop-after-epoch 1 >/dev/null 2>&1 || fail "2-rank run stopping after epoch 1 failed"
mpiexec -np 2 "$train" "${common[@]}" --set train.epochs=2 --run resumed --resume auto >resume.log 2>&1 || { cat resume.log; fail "2-rank resume failed"; }
resumed=$("$FER_BIN/fer-test-checkpoint-diff" runs/two-ranks/latest.pt runs/resumed/latest.pt)
python3 -c "import sys; r = float(sys.argv[1].split()[-1]); sys.exit(0 if r == 0 else 1)" "$resumed" ||
  fail "resumed 2-rank run differs from the uninterrupted one: $resumed"

# Per-rank arguments for 4 and 5: a wrapper appends rank 0's or rank 1's words. (MPMD's
# "mpiexec -np 1 A : -np 1 B" would say it directly, but Open MPI 5.0.7's mpiexec in
# Debian 13 crashes on any MPMD command line: open-mpi/ompi#13303.)
cat >per_rank.sh <<'SH'
#!/usr/bin/env bash
# per_rank.sh "RANK-0 WORDS" "RANK-1 WORDS" COMMAND...
words=$1
if [ "${OMPI_COMM_WORLD_RANK:-0}" = 1 ]; then words=$2; fi
shift 2
# shellcheck disable=SC2086  # the words are meant to split
exec "$@" $words
SH

# 4. Ranks that disagree on the configuration: exit 2, rank and key named, no hang.
expect_exit 2 timeout 120 mpiexec -np 2 bash per_rank.sh "--set optim.lr=0.004" "--set optim.lr=0.008" \
  "$train" "${common[@]}" --run mismatch
assert_output_contains "rank 1 disagrees with rank 0"
assert_output_contains "'optim.lr: 0.008' where rank 0 has 'optim.lr: 0.004'"

# 5. One rank cannot open its shards: the job ends with that rank's message and code.
expect_exit 2 timeout 120 mpiexec -np 2 bash per_rank.sh "" "--set data.shards=no-such-shards" \
  "$train" "${common[@]}" --run broken
assert_output_contains "fer-train[rank 1/2"
assert_output_contains "no-such-shards"

# 6. NCCL without a GPU.
expect_exit 2 timeout 120 mpiexec -np 2 "$train" "${common[@]}" --run nccl --set dist.backend=nccl
assert_output_contains "dist.backend = nccl"

# 7 and 8: a rank that stalls or dies in the middle of training.
rank_pid() {  # rank_pid RUN RANK: pid of that rank's fer-train
  local pid
  for pid in $(pgrep -f "fer-train .*--run $1( |$)"); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}
interrupt_rank() {  # interrupt_rank SIGNAL RUN: starts a long 2-rank run, signals rank 1 mid-epoch
  local signal=$1 run=$2 job pid="" started
  mpiexec -np 2 "$train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth \
    --set checkpoint.dir=runs --set train.epochs=500 --set train.threads=1 \
    --set train.log_every_steps=5 --set dist.timeout_seconds=8 --run "$run" >"$run.log" 2>&1 &
  job=$!
  for _ in $(seq 1 300); do  # up to 60 s for training to start
    if grep -q "epoch 1/500 step" "$run.log" && pid=$(rank_pid "$run" 1); then break; fi
    sleep 0.2
  done
  [ -n "$pid" ] || { cat "$run.log"; kill "$job"; fail "the $run run never started training"; }
  started=$(date +%s.%N)
  kill "-$signal" "$pid"
  local code=0
  # The deadline is 8 s, plus up to 5 s of diagnosis; 60 s means it hung.
  timeout 60 tail --pid="$job" -f /dev/null || { kill -CONT "$pid"; kill -9 "$job"; fail "$run: the job did not end after rank 1 got SIG$signal"; }
  wait "$job" || code=$?
  ELAPSED=$(python3 -c "import time,sys; print(round(time.time() - float(sys.argv[1]), 1))" "$started")
  [ "$code" != 0 ] || fail "$run: exit code 0 after rank 1 got SIG$signal"
  echo "SIG$signal to rank 1: the job ended with code $code after $ELAPSED s"
}
interrupt_rank STOP stalled
grep -q "no word from rank 1" stalled.log || { cat stalled.log; fail "the stall message does not name rank 1"; }
# Rank 0 waits in the gradient all-reduce, or, when the stop lands after rank 1's last
# step of the epoch (a slow host), in the end-of-epoch BatchNorm averaging or the
# validation's reduction: each is named.
grep -Eq "in '(gradient all-reduce|averaging BatchNorm statistics|validation of epoch [0-9]+)[^']*' \(collective #[0-9]+\)" stalled.log ||
  { cat stalled.log; fail "the stall message does not say what rank 0 waited for"; }
python3 -c "import sys; sys.exit(0 if 7 <= float(sys.argv[1]) <= 40 else 1)" "$ELAPSED" ||
  fail "stalled rank: ended after $ELAPSED s; the deadline is 8 s"
interrupt_rank KILL killed
# Open MPI wraps its message over lines ("... rank 1 with PID N on node X exited on\n signal 9 (Killed)."): read it as one line.
tr "\n" " " <killed.log | grep -Eq "rank 1 .*(exited on +signal 9|Killed)" || { cat killed.log; fail "the kill message does not name rank 1"; }
echo "e2e dist_train: ok"
