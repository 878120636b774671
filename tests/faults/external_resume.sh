#!/usr/bin/env bash
# Resuming against an external coordinator when the trainer's checkpoint.dir is not
# the coordinator's: the trainer must not start the run again from epoch 1 (which
# used to drop 27 of 30 epochs and exit 0). Every wrong way is refused with rc 2 and
# the coordinator's run is untouched; the right way continues it.
source "$(dirname "$0")/lib.sh"
make_synth_shards
start_coordinator 0 -1 --checkpoints coord-runs
at=(--set coordinator.address="127.0.0.1:$PORT")
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=3 --set checkpoint.dir=trainer-runs --run crun "${at[@]}" -q \
  >train.log 2>&1 || { cat train.log; fail "training failed"; }
check_run_consistent coord-runs/crun
before=$(run_digest coord-runs/crun)

# 1. --resume auto where the trainer's directory has no checkpoint: an error, not a new run.
expect_exit 2 "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=5 --set checkpoint.dir=trainer-runs --run crun --resume auto "${at[@]}" -q
assert_output_contains "--resume auto --run crun: trainer-runs/crun has no latest.pt"
# 2. The same run name started afresh (no --resume), with the run's secret: refused.
expect_exit 2 "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=5 --set checkpoint.dir=trainer-runs --run crun "${at[@]}" -q
assert_output_contains "already holds epochs up to 3"
# 3. From another directory (another secret): refused as a stranger.
expect_exit 2 "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=5 --set checkpoint.dir=elsewhere --run crun "${at[@]}" -q
assert_output_contains "wrong run secret"
# 4. --resume auto with no run of the config at all.
expect_exit 2 "$FER_BIN/fer-train" "${TINY[@]}" --set checkpoint.dir=empty --resume auto -q
assert_output_contains "--resume auto: no run of config 'tiny'"
[ "$(run_digest coord-runs/crun)" = "$before" ] || { diff <(echo "$before") <(run_digest coord-runs/crun); fail "a refused start changed the coordinator's run"; }

# 5. From the coordinator's directory it resumes after epoch 3 and appends 4 and 5.
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=5 --set checkpoint.dir=coord-runs --run crun --resume auto "${at[@]}" -q \
  >resume.log 2>&1 || { cat resume.log; fail "resuming from the coordinator's directory failed"; }
epochs=$(python3 -c 'import json,sys; print([json.loads(l)["epoch"] for l in open(sys.argv[1])])' coord-runs/crun/metrics.jsonl)
[ "$epochs" = "[1, 2, 3, 4, 5]" ] || fail "metrics epochs after the resume: $epochs"
check_run_consistent coord-runs/crun

# 6. A coordinator address that does not resolve fails at once, saying so.
started=$(now)
expect_exit 2 "$FER_BIN/fer-train" "${TINY[@]}" --set checkpoint.dir=other --set coordinator.address=no-such-host.invalid:7070 -q
assert_output_contains "cannot resolve no-such-host.invalid"
echo "figure: unresolvable coordinator host reported after $(seconds_since "$started") s (connect timeout 60 s)"
echo "faults external_resume: ok"
