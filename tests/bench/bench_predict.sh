#!/usr/bin/env bash
# fer-predict benchmark (prints figures; not a test). Trains the reference model
# (configs/bench.yaml, 1.21 M parameters) for one short epoch to get a checkpoint (its
# accuracy does not matter here, its shape does), then measures in one process
# (fer-bench-predict, the same code path as fer-predict):
#   - latency of one 48x48 face with --no-detect (p50/p90/p99 over `repeat` calls);
#   - latency of one 640x480 photo with Haar face detection;
#   - batched throughput on pre-cropped 48x48 faces (fer-synth images, --no-detect);
# for 2 and 1 threads (and OpenBLAS's default 2 threads, to show why fer-predict uses 1),
# and the same for the tiny preset. Finally fer-predict
# itself on the face directory, end to end (process start and model load included).
#   bash tests/bench/bench_predict.sh [repeat] [faces]
# Targets (fer-predict issue): p50 <= 3 ms per face, p50 <= 30 ms per 640x480 photo,
# >= 1,500 faces/s batched.
source "$(dirname "$0")/lib.sh" predict
repeat="${1:-200}"
faces="${2:-3000}"
for tool in fer-synth fer-shard fer-train fer-predict fer-bench-predict fer-test-predict-fixtures; do
  [ -x "$bin/$tool" ] || { echo "missing $bin/$tool: build it first" >&2; exit 1; }
done
cd "$work"

"$bin/fer-synth" --out synth --images "$faces" --format both --seed 3 >/dev/null
"$bin/fer-shard" synth/fer2013.csv --out shards -q
for config in bench tiny; do
  "$bin/fer-train" -c "$root/configs/$config.yaml" --set data.shards=shards --set checkpoint.dir=runs \
    --set data.limit_train_images=256 --set data.limit_val_images=64 --set train.epochs=1 \
    --run "$config" -q >/dev/null
done
"$bin/fer-test-predict-fixtures" face face48.png
"$bin/fer-test-predict-fixtures" photo photo.jpg --width 640 --height 480 --side 160
count=$(find synth/images -name '*.png' | wc -l)

echo "fer-predict benchmark, $(nproc) cores, $count pre-cropped faces (fer-synth), $repeat calls per latency"
run() {  # label, then fer-bench-predict arguments
  echo "$1"
  shift
  "$bin/fer-bench-predict" --repeat "$repeat" --face face48.png --faces-dir synth/images "$@" | tail -n +3
}
for threads in 2 1; do
  run "configs/bench.yaml, $threads thread(s):" -k runs/bench/best.pt --threads "$threads" --photo photo.jpg
done
# --precision bf16 where this CPU has AVX512-BF16 (fer-bench-predict refuses it elsewhere).
for threads in 2 1; do
  "$bin/fer-bench-predict" -k runs/bench/best.pt --precision bf16 --repeat 1 >/dev/null 2>&1 || {
    echo "configs/bench.yaml, --precision bf16: not on this CPU (no AVX512-BF16)"
    break
  }
  run "configs/bench.yaml, $threads thread(s), --precision bf16:" -k runs/bench/best.pt \
    --threads "$threads" --precision bf16
done
# Why fer-predict runs OpenBLAS single-threaded (src/predict/cpu_threads.hpp):
run "configs/bench.yaml, 2 threads, OpenBLAS on 2 threads (its default):" -k runs/bench/best.pt \
  --threads 2 --blas-threads 2 --photo photo.jpg
for threads in 2 1; do
  run "configs/tiny.yaml, $threads thread(s):" -k runs/tiny/best.pt --threads "$threads"
done

echo "fer-predict end to end (process start, model load, walk, decode, classify, JSON out), 2 threads:"
for config in bench tiny; do
  start=$(date +%s.%N)
  "$bin/fer-predict" -q --checkpoints-dir runs -k "$config" --no-detect --batch 256 --threads 2 --json \
    synth/images > out.jsonl
  end=$(date +%s.%N)
  lines=$(wc -l < out.jsonl)
  printf '  %-6s %6d faces in %5.2f s = %6.0f faces/s\n' "$config" "$lines" "$(echo "$end - $start" | bc -l)" \
    "$(echo "$lines / ($end - $start)" | bc -l)"
done
