#!/usr/bin/env bash
# Training-throughput benchmark (prints figures; not a test): fer-train on
# configs/bench.yaml with its fused CPU kernels (train.cpu_kernels=fused, the default),
# fer-train on LibTorch's layers (cpu_kernels=aten), and the same model and loop in
# Python (Debian's python3-torch, the same LibTorch build), and the fused kernels with
# bf16 convolutions (train.cpu_precision=bf16; "n/a" on a CPU without native bf16),
# at 1 and 2 threads,
# alternating the four so that machine noise hits all alike; medians of `runs`.
# Each side gets its best environment: OpenBLAS and jemalloc (fer-train links it;
# Python gets LD_PRELOAD), and OpenBLAS on one thread (fer-train sets it; Python gets
# OPENBLAS_NUM_THREADS=1: with one OpenBLAS thread per core, the Python loop at 2 threads
# is ~20% slower on this machine).
#   bash tests/bench/bench_train.sh [runs] [steps]
# The C++ figures are fer-train end to end (real loader with augmentation on a
# background thread, real shards); the Python figure is a bare loop on one fixed
# batch, which favours Python. "% of peak" uses this machine's FMA peak, measured here
# (tests/bench/fma_peak.c), and 547 MFLOP per image (forward + backward).
# Installs python3-torch if missing.
source "$(dirname "$0")/lib.sh" train
runs="${1:-3}"
steps="${2:-50}"
require_python_torch

"$bin/fer-synth" --out "$work/synth" --images 6000 --format csv >/dev/null
"$bin/fer-shard" "$work/synth/fer2013.csv" --out "$work/shards" -q
images=$((steps * 64))
gcc -O3 -mavx2 -mfma -fopenmp "$root/tests/bench/fma_peak.c" -o "$work/fma_peak"

cpp_run() {  # kernels threads [precision] -> images/s and the per-phase line ("n/a": refused)
  local kernels="$1" precision="${3:-f32}"
  local run="r$RANDOM$RANDOM"
  if ! "$bin/fer-train" -c "$root/configs/bench.yaml" --set data.shards="$work/shards" --set checkpoint.dir="$work/runs" \
    --set data.limit_train_images=$images --set data.limit_val_images=64 --set train.threads="$2" \
    --set train.epochs=1 --set train.cpu_kernels="$kernels" --set train.cpu_precision="$precision" \
    --run "$run" > "$work/$run.log" 2>&1; then
    echo n/a
    return
  fi
  python3 -c 'import json,sys; print(round(json.loads(open(sys.argv[1]).readline())["images_per_second"], 1))' \
    "$work/runs/$run/metrics.jsonl"
  grep "time per step" "$work/$run.log" | sed 's/^ *//' > "$work/phases-$kernels-$precision-$2.txt"
}
py_run() {
  LD_PRELOAD="$jemalloc" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 OMP_NUM_THREADS="$1" OPENBLAS_NUM_THREADS=1 \
    /usr/bin/python3 "$root/tests/bench/train_loop.py" "$1" "$steps" | sed 's/.*images\/s=//'
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "training throughput, configs/bench.yaml (1.21 M parameters, batch 64), $steps steps, $runs runs (median), $(nproc) cores"
printf '  %-8s %10s %10s %10s %10s %14s %14s %12s %10s\n' threads "fused" "aten" "Python" "fused bf16" \
  "fused/Python" "fused/aten" "fused % peak" "bf16/f32"
for threads in 1 2; do
  fused=(); aten=(); py=(); bf16=()
  for ((r = 0; r < runs; r++)); do
    fused+=("$(cpp_run fused "$threads")")
    aten+=("$(cpp_run aten "$threads")")
    py+=("$(py_run "$threads")")
    bf16+=("$(cpp_run fused "$threads" bf16)")  # "n/a" where the CPU lacks native bf16
  done
  f=$(printf '%s\n' "${fused[@]}" | median)
  b=$(printf '%s\n' "${bf16[@]}" | median)
  a=$(printf '%s\n' "${aten[@]}" | median)
  p=$(printf '%s\n' "${py[@]}" | median)
  # The best of 3 probes: a probe that shares the core with a straggler reads low.
  peak=$(for k in 1 2 3; do OMP_NUM_THREADS="$threads" "$work/fma_peak"; done | sort -g | tail -1)
  util=$(echo "100 * $f * 0.547 / $peak" | bc -l)
  ratio=n/a
  [[ "$b" != n/a ]] && ratio=$(printf '%.2f' "$(echo "$b / $f" | bc -l)")
  printf '  %-8s %10.1f %10.1f %10.1f %10s %14.2f %14.2f %11.1f%% %10s\n' "$threads" "$f" "$a" "$p" "$b" \
    "$(echo "$f / $p" | bc -l)" "$(echo "$f / $a" | bc -l)" "$util" "$ratio"
  echo "           runs: fused ${fused[*]}; aten ${aten[*]}; Python ${py[*]}; fused bf16 ${bf16[*]}; FMA peak $peak GFLOP/s"
  echo "           fused $(cat "$work/phases-fused-f32-$threads.txt")"
  [[ "$b" != n/a ]] && echo "           bf16  $(cat "$work/phases-fused-bf16-$threads.txt")"
  echo "           aten  $(cat "$work/phases-aten-f32-$threads.txt")"
done

