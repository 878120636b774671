#!/usr/bin/env bash
# Training-throughput benchmark (prints figures; not a test): fer-train on
# configs/bench.yaml versus the same model and loop in Python (Debian's python3-torch,
# the same LibTorch build), at 1 and 2 threads, alternating C++ / Python runs so that
# machine noise hits both alike; medians of `runs`. Each side gets its best
# environment: OpenBLAS and jemalloc (fer-train links it; Python gets LD_PRELOAD).
#   bash tests/bench/bench_train.sh [runs] [steps]
# The C++ figure is fer-train end to end (real loader with augmentation on a
# background thread, real shards); the Python figure is a bare loop on one fixed
# batch, which favours Python. Installs python3-torch if missing.
source "$(dirname "$0")/lib.sh" train
runs="${1:-3}"
steps="${2:-50}"
require_python_torch

"$bin/fer-synth" --out "$work/synth" --images 6000 --format csv >/dev/null
"$bin/fer-shard" "$work/synth/fer2013.csv" --out "$work/shards" -q
images=$((steps * 64))

cpp_run() {  # threads -> images/s and the per-phase line
  local run="r$RANDOM$RANDOM"
  "$bin/fer-train" -c "$root/configs/bench.yaml" --set data.shards="$work/shards" --set checkpoint.dir="$work/runs" \
    --set data.limit_train_images=$images --set data.limit_val_images=64 --set train.threads="$1" \
    --set train.epochs=1 --run "$run" > "$work/$run.log"
  python3 -c 'import json,sys; print(round(json.loads(open(sys.argv[1]).readline())["images_per_second"], 1))' \
    "$work/runs/$run/metrics.jsonl"
  grep "time per step" "$work/$run.log" | sed 's/^ *//' > "$work/phases-$1.txt"
}
py_run() {
  LD_PRELOAD="$jemalloc" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 OMP_NUM_THREADS="$1" \
    /usr/bin/python3 "$root/tests/bench/train_loop.py" "$1" "$steps" | sed 's/.*images\/s=//'
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "training throughput, configs/bench.yaml (1.21 M parameters, batch 64), $steps steps, $runs runs (median), $(nproc) cores"
printf '  %-8s %12s %12s %8s %14s\n' threads "C++ img/s" "Python img/s" ratio "C++ % of peak"
for threads in 1 2; do
  cpp=(); py=()
  for ((r = 0; r < runs; r++)); do
    cpp+=("$(cpp_run "$threads")")
    py+=("$(py_run "$threads")")
  done
  c=$(printf '%s\n' "${cpp[@]}" | median)
  p=$(printf '%s\n' "${py[@]}" | median)
  # ~547 MFLOP per image forward+backward; FMA peak ~210 GFLOP/s per core here.
  util=$(echo "100 * $c * 0.547 / (210 * $threads)" | bc -l)
  printf '  %-8s %12.1f %12.1f %8.2f %13.1f%%\n' "$threads" "$c" "$p" "$(echo "$c / $p" | bc -l)" "$util"
  echo "           C++ runs: ${cpp[*]}; Python runs: ${py[*]}"
  echo "           C++ $(cat "$work/phases-$threads.txt")"
done
