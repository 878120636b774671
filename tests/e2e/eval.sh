#!/usr/bin/env bash
# fer-eval end to end: a briefly trained tiny model scored on val; every figure checked
# against scikit-learn (Debian's python3-sklearn) on the per-image predictions.csv;
# mpiexec -np 2 gives the same numbers and rows as one process; the confusion-matrix
# PNG has the expected size and is not blank; the test split only when asked;
# several checkpoints compared; errors exit with the documented codes.
source "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sk_python=/usr/bin/python3  # Debian's python3 has python3-sklearn; a pyenv one may come first on PATH
"$sk_python" -c 'import sklearn' 2>/dev/null || { echo "SKIP: python3-sklearn missing (launch/test.sh installs it)"; exit 77; }
eval_bin="$FER_BIN/fer-eval"

"$FER_BIN/fer-synth" --out synth --images 1500 --format csv --seed 5 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
"$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth \
  --set checkpoint.dir=runs --set train.epochs=3 --set checkpoint.keep_last=5 --run tiny -q >/dev/null
val_images=$(json_get shards/synth/manifest.json "m['splits']['val']['images']")
test_images=$(json_get shards/synth/manifest.json "m['splits']['test']['images']")

# One process: table on stdout, files in out1/.
"$eval_bin" --checkpoint best --checkpoints-dir runs --out out1 --predictions >table.txt 2>eval.log ||
  { cat eval.log; fail "fer-eval failed"; }
grep -q "split 'val', $val_images images" table.txt || { cat table.txt; fail "the report does not say which split and how many images"; }
for f in metrics.json confusion_matrix.csv confusion_matrix.png predictions.csv; do [ -s "out1/$f" ] || fail "no out1/$f"; done
[ "$(($(wc -l <out1/predictions.csv) - 1))" = "$val_images" ] || fail "predictions.csv does not hold one row per val image"

# The same metrics from scikit-learn on the per-image predictions, to 4 decimals.
"$sk_python" - out1/metrics.json out1/predictions.csv <<'PY' || fail "fer-eval disagrees with scikit-learn"
import csv, json, math, sys
import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, accuracy_score, top_k_accuracy_score, log_loss
m = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
names = m["labels"]
y = np.array([int(r["true_label"]) for r in rows])
pred = np.array([int(r["predicted_label"]) for r in rows])
prob = np.array([[float(r["p_" + n]) for n in names] for r in rows])
labels = list(range(7))
rep = classification_report(y, pred, labels=labels, output_dict=True, zero_division=0)
bad = []
def same(what, ours, theirs, places=4):
    if round(ours, places) != round(theirs, places) and abs(ours - theirs) > 10 ** -places:
        bad.append(f"{what}: fer-eval {ours:.6f}, sklearn {theirs:.6f}")
same("accuracy", m["accuracy"], accuracy_score(y, pred))
same("top-2 accuracy", m["top2_accuracy"], top_k_accuracy_score(y, prob, k=2, labels=labels))
same("loss", m["loss"], log_loss(y, prob, labels=labels), places=3)  # probabilities rounded to 6 digits in the CSV
for c, name in enumerate(names):
    for key in ("precision", "recall", "f1"):
        same(f"{name} {key}", m["classes"][c][key], rep[str(c)][key if key != "f1" else "f1-score"])
    if m["classes"][c]["support"] != rep[str(c)]["support"]:
        bad.append(f"{name} support")
for ours, theirs in (("macro_avg", "macro avg"), ("weighted_avg", "weighted avg")):
    for key in ("precision", "recall", "f1"):
        same(f"{theirs} {key}", m[ours][key], rep[theirs][key if key != "f1" else "f1-score"])
if m["confusion_matrix"] != confusion_matrix(y, pred, labels=labels).tolist():
    bad.append("confusion matrix")
if not all(abs(sum(p) - 1) < 1e-4 for p in prob):
    bad.append("probabilities do not sum to 1")
print("\n".join(bad) if bad else f"sklearn agrees on {len(rows)} images: accuracy {m['accuracy']:.4f}, macro F1 {m['macro_avg']['f1']:.4f}")
sys.exit(1 if bad else 0)
PY

# The PNG: 7x7 cells of 84 px plus margins = 738 x 748, and not blank.
"$sk_python" - out1/confusion_matrix.png <<'PY' || fail "confusion_matrix.png is wrong"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", data[16:24])
assert (width, height) == (738, 748), f"size {width}x{height}"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + length]
    pos += 12 + length
pixels = zlib.decompress(idat)
distinct = len(set(pixels[i] for i in range(0, len(pixels), 7)))
assert distinct > 20, f"only {distinct} distinct byte values: blank?"
print(f"confusion_matrix.png {width}x{height}, {distinct} distinct values")
PY

# Two ranks: the same numbers and the same rows.
mpiexec -np 2 "$eval_bin" --checkpoint best --checkpoints-dir runs --out out2 --predictions -q >/dev/null 2>eval2.log ||
  { cat eval2.log; fail "fer-eval under mpiexec -np 2 failed"; }
"$sk_python" - out1/metrics.json out2/metrics.json <<'PY' || fail "2 ranks differ from 1 process"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for key in ("seconds", "images_per_second"):
    a.pop(key); b.pop(key)
# Counts (and every metric derived from them) are exact. The loss is a float sum whose
# order depends on the ranks, of logits that oneDNN computes with batch-size-dependent
# rounding (~1e-7).
loss_a, loss_b = a.pop("loss"), b.pop("loss")
sys.exit(0 if a == b and abs(loss_a - loss_b) <= 1e-6 * abs(loss_a) else 1)
PY
"$sk_python" - out1/predictions.csv out2/predictions.csv <<'PY' || fail "predictions.csv differs between 1 and 2 ranks"
import csv, sys
a, b = (list(csv.reader(open(f))) for f in sys.argv[1:])
assert len(a) == len(b) and a[0] == b[0], "row count or header"
for x, y in zip(a[1:], b[1:]):
    assert x[:6] == y[:6], f"{x[:6]} != {y[:6]}"  # index, source, labels
    assert all(abs(float(p) - float(q)) <= 1e-5 for p, q in zip(x[6:], y[6:])), f"{x} != {y}"
PY

# The test split only when asked, and labelled as such.
"$eval_bin" --checkpoint runs/tiny --split test --format json -q >test.json
[ "$(json_get test.json "m['split'], m['images']")" = "('test', $test_images)" ] || fail "test split report: $(json_get test.json "m['split'], m['images']")"

# Several checkpoints: a comparison table; JSON is a list.
"$eval_bin" -k runs/tiny/epoch-0001.pt -k runs/tiny/epoch-0003.pt -q >compare.txt
grep -q "^comparison (val split)" compare.txt || fail "no comparison table"
[ "$(grep -cE '^[12] +[0-9.]+%' compare.txt)" = 2 ] || { cat compare.txt; fail "comparison rows"; }
"$eval_bin" -k runs/tiny/epoch-0001.pt -k runs/tiny/epoch-0003.pt --format csv -q >compare.csv
[ "$(grep -c ',accuracy,' compare.csv)" = 2 ] || fail "CSV of two checkpoints"

# --precision: the JSON says which arithmetic scored; bf16 (where this CPU has
# AVX512-BF16) lands within a point of f32 on the same images; a CPU without it (here
# ONEDNN_MAX_CPU_ISA=AVX2 stands in for one) is refused with exit 2 and the reason.
"$eval_bin" --checkpoint runs/tiny --format json -q >f32.json
[ "$(json_get f32.json "m['precision']")" = f32 ] || fail "fer-eval JSON lacks precision f32"
if "$eval_bin" --checkpoint runs/tiny --precision bf16 --format json -q >bf16.json 2>bf16.err; then
  [ "$(json_get bf16.json "m['precision']")" = bf16 ] || fail "fer-eval --precision bf16: JSON says otherwise"
  "$sk_python" - f32.json bf16.json <<'PY' || fail "bf16 accuracy is not within a point of f32"
import json, sys
a, b = (json.load(open(f))["accuracy"] for f in sys.argv[1:])
print(f"accuracy f32 {a:.4f}, bf16 {b:.4f}")
sys.exit(0 if abs(a - b) <= 0.01 else 1)
PY
else
  grep -q "no native bf16 convolutions" bf16.err || { cat bf16.err; fail "--precision bf16 failed without saying why"; }
  echo "this CPU has no AVX512-BF16: bf16 accuracy not compared"
fi
expect_exit 2 env ONEDNN_MAX_CPU_ISA=AVX2 "$eval_bin" --checkpoint runs/tiny --precision bf16 -q
assert_output_contains "--precision bf16: this CPU has no native bf16 convolutions (oneDNN runs avx2 code here"
assert_output_contains "use --precision f32"
expect_exit 2 "$eval_bin" --checkpoint runs/tiny --precision fp8
assert_output_contains "fp8"

# Errors.
expect_exit 2 "$eval_bin" --checkpoint nothing-here --checkpoints-dir runs
assert_output_contains "checkpoint 'nothing-here' not found"
expect_exit 2 "$eval_bin" --checkpoint best --checkpoints-dir runs --tta tencrop
assert_output_contains "--tta tencrop needs a model trained on crops"
head -c 5000 runs/tiny/epoch-0003.pt >truncated.pt
expect_exit 3 "$eval_bin" --checkpoint truncated.pt
assert_output_contains "truncated.pt: not a readable fer-train checkpoint"
expect_exit 2 "$eval_bin" --checkpoint best --checkpoints-dir runs --predictions
assert_output_contains "--out"
echo "e2e eval: ok"
