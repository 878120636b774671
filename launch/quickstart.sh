#!/usr/bin/env bash
# The main job, end to end on data that needs no download:
#   install what is missing -> build -> generate a synthetic FER2013 data set
#   (fer-synth) -> shard it (fer-shard) -> check the shards -> train the tiny
#   CNN-RNN on them, data-parallel on 2 ranks (launch/train.sh -> mpirun ->
#   fer-train, configs/tiny.yaml) -> print the summary.
#
#   bash launch/quickstart.sh                      # synthetic data
#   FER_INPUT=~/fer2013.csv bash launch/quickstart.sh       # a real download (CSV)
#   FER_INPUT=~/fer2013 bash launch/quickstart.sh           # or the image folders
#
# Environment: FER_INPUT (real data instead of fer-synth), FER_DATASET (shard
# directory name, default synth or the input's name), FER_SYNTH_IMAGES (6000),
# FER_CONFIG (training preset, default configs/tiny.yaml), plus those of
# launch/setup.sh and launch/train.sh (FER_RANKS, FER_THREADS). Extra arguments go
# to fer-train (e.g. --set train.epochs=3).
set -euo pipefail
source "$(dirname "$0")/common.sh"
install_dependencies
build_project
cd "$FER_ROOT"

if [ -n "${FER_INPUT:-}" ]; then
  input="$FER_INPUT"
  dataset="${FER_DATASET:-$(basename "${input%.csv}")}"
else
  dataset="${FER_DATASET:-synth}"
  log "generating a synthetic FER2013 data set in data/synth"
  "$FER_BIN/fer-synth" --out data/synth --images "${FER_SYNTH_IMAGES:-6000}" --overwrite
  input=data/synth/fer2013.csv
fi

log "sharding $input -> shards/$dataset"
"$FER_BIN/fer-shard" "$input" --name "$dataset" --overwrite

log "checking shards/$dataset against its manifest"
"$FER_BIN/fer-shard" --inspect "shards/$dataset" --verify

config="${FER_CONFIG:-configs/tiny.yaml}"
log "training $config on shards/$dataset, data-parallel (launch/train.sh: mpirun, 2 ranks on a CPU machine)"
FER_BIN="$FER_BIN" bash "$FER_ROOT/launch/train.sh" -c "$config" --set "data.shards=shards/$dataset" "$@"

# The run's coordinator (embedded in rank 0) summed both ranks' validation counts into
# metrics.jsonl and stored the checkpoints; score the best one once more on its own.
log "scoring the newest run's best.pt on val with fer-eval (the coordinator's figures, recomputed)"
"$FER_BIN/fer-eval" --checkpoint best --checkpoints-dir checkpoints

log "done: shards/$dataset, and the run above under checkpoints/ (best.pt, metrics.jsonl, manifest.json)"
