#!/usr/bin/env bash
# Real FER2013 end to end: shard the folder edition, train the tiny preset to a
# two-minute time budget (train.time_budget_minutes), then fer-eval on the real
# PublicTest images (the val split): every image scored, clearly better than always
# predicting Happy (24.9%; 58.9% measured on a Zen 4 host), metrics files written.
# Skips (77) when the data is absent.
source "$(dirname "$0")/lib.sh"
extract_real_fer2013
root="$REAL_FER2013"
"$FER_BIN/fer-shard" "$root" --out shards/fer2013 --name fer2013 -q
"$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/fer2013 \
  --set checkpoint.dir=runs --set train.epochs=50 --set train.time_budget_minutes=2 --run real -q
"$FER_BIN/fer-eval" --checkpoint runs/real --tta flip --out out --format json -q >eval.json
[ "$(json_get eval.json "m['split'], m['images'], m['tta']")" = "('val', 3589, 'flip')" ] ||
  fail "report: $(json_get eval.json "m['split'], m['images'], m['tta']")"
accuracy=$(json_get eval.json "m['accuracy']")
echo "tiny preset, 2-minute budget: PublicTest accuracy $accuracy (chance 0.143, always-Happy 0.249)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.35 else 1)" "$accuracy" ||
  fail "accuracy $accuracy is not clearly better than always predicting Happy (0.249; expected > 0.35)"
for f in metrics.json confusion_matrix.csv confusion_matrix.png; do [ -s "out/$f" ] || fail "no out/$f"; done
echo "realdata eval_fer2013: ok"
