#!/usr/bin/env bash
# fer-eval throughput (prints figures; not a test): the reference model of
# configs/bench.yaml (briefly trained on fer-synth data) scores the synthetic train
# split without test-time augmentation, on 1 process x 2 threads and on 2 ranks x 1
# thread (mpiexec), alternating, medians of `runs`. Target: >= 1,000 images/s on 2 cores.
#   bash tests/bench/bench_eval.sh [runs]
source "$(dirname "$0")/lib.sh" eval
runs="${1:-3}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$work"
"$bin/fer-synth" --out synth --images 6000 --format csv >/dev/null
"$bin/fer-shard" synth/fer2013.csv --out shards -q
"$bin/fer-train" -c "$root/configs/bench.yaml" --set data.shards=shards --set checkpoint.dir=runs \
  --set data.limit_train_images=512 --set data.limit_val_images=64 --run bench -q >/dev/null
images=$(python3 -c 'import json; print(json.load(open("shards/manifest.json"))["splits"]["train"]["images"])')

one() { "$bin/fer-eval" -k runs/bench --split train --tta none --threads 2 --format json -q | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_second"]))'; }
two() { mpiexec -np 2 --bind-to core "$bin/fer-eval" -k runs/bench --split train --tta none --threads 1 --format json -q | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_second"]))'; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
a=(); b=()
for ((r = 0; r < runs; r++)); do a+=("$(one)"); b+=("$(two)"); done
echo "fer-eval, configs/bench.yaml model, $images images (train split of fer-synth), no TTA, $(nproc) cores, median of $runs"
echo "  1 process x 2 threads: $(printf '%s\n' "${a[@]}" | median) images/s   (runs: ${a[*]})"
echo "  2 ranks x 1 thread:    $(printf '%s\n' "${b[@]}" | median) images/s   (runs: ${b[*]})"
echo "  target: >= 1000 images/s; the figures include opening the shards, not loading the checkpoint"
