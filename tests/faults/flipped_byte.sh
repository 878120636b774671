#!/usr/bin/env bash
# One flipped byte (same size) in a checkpoint inside its run, and in a shard: every
# consumer refuses it with exit code 3 and names the file: fer-eval, fer-predict,
# fer-train --resume for the checkpoint; fer-train and fer-eval for the shard.
source "$(dirname "$0")/lib.sh"
make_synth_shards
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=2 --set checkpoint.dir=runs --run flip -q >train.log 2>&1 || { cat train.log; fail "training failed"; }
flip_byte() {  # flip_byte FILE : one byte in the middle, same size
  python3 - "$1" <<'PY'
import os, sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(os.path.getsize(p) // 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x10]))
PY
}
cp -a runs/flip runs/intact
target=$(readlink -f runs/flip/best.pt)
flip_byte "$target"
"$FER_BIN/fer-synth" --out faces --images 20 --format folder --seed 3 >/dev/null
face=$(find faces -name '*.png' | head -1)
expect_exit 3 "$FER_BIN/fer-eval" --checkpoint runs/flip --shards shards/synth --split val
assert_output_contains "differs from the run manifest"
expect_exit 3 "$FER_BIN/fer-predict" --checkpoint runs/flip/best.pt --no-detect "$face"
assert_output_contains "differs from the run manifest"
if [ "$target" = "$(readlink -f runs/flip/latest.pt)" ]; then
  expect_exit 3 "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=3 --set checkpoint.dir=runs --run flip --resume auto -q
  assert_output_contains "differs from the run manifest"
fi
# The intact copy still works (the refusal is about the byte, not the run).
expect_exit 0 "$FER_BIN/fer-eval" --checkpoint runs/intact --shards shards/synth --split val

shard=$(ls shards/synth/train-*.h5 | head -1)
flip_byte "$shard"
expect_exit 3 "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=1 --set checkpoint.dir=runs --run after-flip -q
assert_output_contains "$shard: SHA-256 is"
expect_exit 3 "$FER_BIN/fer-eval" --checkpoint runs/intact --shards shards/synth --split val
assert_output_contains "$shard: SHA-256 is"
echo "faults flipped_byte: ok"
