#!/usr/bin/env bash
# train.time_budget_minutes: the tiny preset with train.epochs = 1000 as a mere cap and a
# budget of seconds must plan its epochs from the first steps, correct the plan, and
# stop by itself when the plan is fulfilled (last epoch line "epoch N/N"). A run stopped
# after epoch 1 and resumed continues its budgeted schedule (time used so far, no new
# first-step plan) and ends the same way. No timing is asserted: only that the budget,
# not the epoch cap, ended the run.
source "$(dirname "$0")/lib.sh"

"$FER_BIN/fer-synth" --out synth --images 1500 --format csv --seed 4 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
train=("$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth
  --set checkpoint.dir=runs --set train.epochs=1000 --set train.time_budget_minutes=0.75)

# last_epoch_line LOG: "N P" of the last "epoch N/P" progress line.
last_epoch_line() { grep -oE '^epoch [0-9]+/[0-9]+' "$1" | tail -n 1 | sed -E 's|epoch ([0-9]+)/([0-9]+)|\1 \2|'; }

expect_exit 0 "${train[@]}" --run whole
cp "$WORK/out.txt" whole.log
grep -q "time budget: 0:45 of training and validation" whole.log || { cat whole.log; fail "no budget line"; }
grep -qE "time budget: [0-9]+ steps in .* -> [0-9]+ epochs planned" whole.log || fail "no first-step plan"
read -r done planned < <(last_epoch_line whole.log)
echo "budgeted run: $done epochs (plan $planned)"
[ "$done" = "$planned" ] || fail "the run ended at epoch $done of a plan of $planned"
[ "$done" -ge 2 ] && [ "$done" -lt 1000 ] || fail "$done epochs: the budget did not decide the end"
[ "$(wc -l <runs/whole/metrics.jsonl)" = "$done" ] || fail "metrics.jsonl lines != $done epochs"

# Interrupted after epoch 1, then resumed: the plan and the time used carry over.
expect_exit 0 "${train[@]}" --run resumed --stop-after-epoch 1
expect_exit 0 "${train[@]}" --run resumed --resume auto
cp "$WORK/out.txt" resumed.log
grep -qE "time budget: 0:45 of training and validation, [0-9:]+ used" resumed.log ||
  { cat resumed.log; fail "the resumed run did not continue its budget"; }
if grep -qE "steps in .* epochs planned" resumed.log; then fail "the resumed run planned from scratch"; fi
read -r done planned < <(last_epoch_line resumed.log)
echo "resumed budgeted run: $done epochs (plan $planned)"
[ "$done" = "$planned" ] && [ "$done" -ge 2 ] && [ "$done" -lt 1000 ] || fail "resumed run ended at $done of $planned"
python3 - runs/resumed/metrics.jsonl "$done" <<'PY' || fail "resumed metrics are not epochs 1..$done"
import json, sys
epochs = [json.loads(line)["epoch"] for line in open(sys.argv[1])]
sys.exit(0 if epochs == list(range(1, int(sys.argv[2]) + 1)) else 1)
PY
echo "e2e train_budget: ok"
