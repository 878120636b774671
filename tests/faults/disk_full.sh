#!/usr/bin/env bash
# The run directory is on a small file system that fills up mid-run. The checkpoint
# that does not fit stops the run with exit code 1 and the coordinator's reason; the
# checkpoints stored before stay intact and the summary names only what exists.
source "$(dirname "$0")/lib.sh"
make_synth_shards
# One checkpoint's size, from a throwaway run.
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=1 --set checkpoint.dir=probe --run probe -q >/dev/null 2>&1 || fail "probe run failed"
bytes=$(stat -c %s "$(readlink -f probe/probe/latest.pt)")
mkdir small
# Room for two checkpoints and the small files, not three.
if ! mount -t tmpfs -o size=$((bytes * 5 / 2 + 65536)) tmpfs small 2>mount.err; then
  echo "SKIP: cannot mount a small tmpfs here ($(cat mount.err))"
  exit 77
fi
trap 'umount -l "$WORK/small" 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo "checkpoint: $bytes bytes; file system: $(df -B1 --output=size small | tail -1) bytes"
rc=0
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=6 --set checkpoint.dir=small --run full --set checkpoint.keep_last=6 >train.log 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat train.log; fail "exit code $rc with a full disk, expected 1"; }
grep -q "No space left on device" train.log || { cat train.log; fail "the disk-full reason is not shown"; }
grep -q "was not stored (the coordinator's reason is above); the run stops" train.log || { cat train.log; fail "the run did not stop on the failed checkpoint"; }
check_run_consistent small/full
best=$(readlink small/full/best.pt)
if grep -q "best checkpoint by" train.log; then
  grep -q "best checkpoint by val_accuracy: epoch $((10#${best:6:4}))" train.log || { cat train.log; fail "the summary names another best than $best"; }
fi
state=$(json_get small/full/coordinator.json "m['state']")
[ "$state" = aborted ] || fail "the run is '$state', expected aborted"
echo "stored before the disk filled: $(json_get small/full/manifest.json "[c['epoch'] for c in m['checkpoints']]"); best.pt -> $best"
# on_store_failure=continue trains to the end and still fails.
rm -rf small/full2
rc=0
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=4 --set checkpoint.dir=small --run full2 --set checkpoint.on_store_failure=continue -q >cont.log 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat cont.log; fail "exit code $rc with on_store_failure=continue, expected 1"; }
grep -q "were not stored by the coordinator" cont.log || { cat cont.log; fail "no final error naming the lost checkpoints"; }
echo "faults disk_full: ok"
