#!/usr/bin/env bash
# The tiny preset learns the fer-synth data: fer-synth -> fer-shard -> fer-train
# (configs/tiny.yaml) must reach >= 90% validation accuracy, and the run directory
# must hold what the README promises.
source "$(dirname "$0")/lib.sh"

"$FER_BIN/fer-synth" --out synth --images 6000 --format csv --seed 11 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
"$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth \
  --set checkpoint.dir=runs --run tiny-e2e | tee train.log
best=$(json_get runs/tiny-e2e/manifest.json "max(c['val_accuracy'] for c in m['checkpoints'])")
echo "best val accuracy: $best"
python3 -c "import sys; sys.exit(0 if float('$best') >= 0.90 else 1)" || fail "tiny preset reached only $best (< 0.90)"
for f in config.yaml metrics.jsonl manifest.json latest.pt best.pt; do [ -e "runs/tiny-e2e/$f" ] || fail "no $f"; done
[ "$(wc -l < runs/tiny-e2e/metrics.jsonl)" -ge 1 ] || fail "metrics.jsonl empty"
grep -q "summary of runs/tiny-e2e" train.log || fail "no summary table"
grep -q "effective configuration" train.log || fail "effective configuration not printed"

# The summary names the checkpoint best.pt really points to, by checkpoint.best_metric.
"$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth --set train.epochs=3 \
  --set checkpoint.dir=runs --run by-loss --set checkpoint.best_metric=val_loss --set checkpoint.keep_last=1 >loss.log
best=$(readlink runs/by-loss/best.pt)
grep -q "best checkpoint by val_loss: epoch $((10#${best:6:4})) " loss.log || { cat loss.log; fail "the summary does not name $best (best by val_loss)"; }
[ "$(json_get runs/by-loss/manifest.json "m['best_metric']")" = val_loss ] || fail "the manifest does not say val_loss"

# train.cpu_precision: bf16 convolutions (where this CPU has native bf16) learn the
# data as f32 does, and say so at start-up; bf16 on a CPU without it (here
# ONEDNN_MAX_CPU_ISA=AVX2 stands in for one) is refused with exit 2 and the reason,
# while auto falls back to f32 and says why.
if "$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth \
  --set checkpoint.dir=runs --run bf16 --set train.cpu_precision=bf16 >bf16.log 2>&1; then
  grep -q "convolutions in bf16 (train.cpu_precision=bf16)" bf16.log || { cat bf16.log; fail "the bf16 run does not say bf16"; }
  best=$(json_get runs/bf16/manifest.json "max(c['val_accuracy'] for c in m['checkpoints'])")
  echo "best val accuracy, bf16 convolutions: $best"
  python3 -c "import sys; sys.exit(0 if float('$best') >= 0.90 else 1)" || fail "bf16 convolutions reached only $best (< 0.90)"
else
  grep -q "no native bf16 convolutions" bf16.log || { cat bf16.log; fail "train.cpu_precision=bf16 failed without saying why"; }
  echo "this CPU has no native bf16: the bf16 run was refused"
fi
expect_exit 2 env ONEDNN_MAX_CPU_ISA=AVX2 "$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" \
  --set data.shards=shards/synth --set checkpoint.dir=runs --run refused --set train.cpu_precision=bf16
assert_output_contains "train.cpu_precision=bf16: this CPU has no native bf16 convolutions (oneDNN runs avx2 code here"
[ ! -e runs/refused ] || fail "a refused run left runs/refused behind"
ONEDNN_MAX_CPU_ISA=AVX2 "$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth \
  --set checkpoint.dir=runs --run auto --set train.cpu_precision=auto --set train.epochs=1 >auto.log 2>&1 ||
  { cat auto.log; fail "train.cpu_precision=auto failed on a CPU without bf16"; }
grep -q "convolutions in f32 (train.cpu_precision=auto: this CPU has no native bf16" auto.log ||
  { cat auto.log; fail "auto does not say why it chose f32"; }

# Config errors name the key and list the valid ones; exit code 2.
expect_exit 2 "$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set optim.lrr=0.1
assert_output_contains "optim.lrr"
assert_output_contains "lr"
echo "e2e train_synth: ok"
