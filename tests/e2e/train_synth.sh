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

# Config errors name the key and list the valid ones; exit code 2.
expect_exit 2 "$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set optim.lrr=0.1
assert_output_contains "optim.lrr"
assert_output_contains "lr"
echo "e2e train_synth: ok"
