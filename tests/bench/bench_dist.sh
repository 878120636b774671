#!/usr/bin/env bash
# Data-parallel training benchmark (prints figures; not a test): global images/s of
# fer-train on configs/bench.yaml for
#   A  1 rank  x 1 thread                 (fer-train run directly)
#   B  2 ranks x 1 thread                 (mpiexec -np 2 --bind-to core --map-by core)
#   C  1 rank  x 2 threads                (fer-train run directly)
#   D  2 ranks x 1 thread, dist.overlap=false
# and the same model in Python (Debian's python3-torch, the same LibTorch build):
# train_loop.py for A and C, tests/bench/ddp_train.py under PyTorch DDP (gloo, ranks
# pinned to a core) for B and D (D: one all-reduce after backward). Runs alternate
# A a B b C c D d (upper case C++, lower case Python) within each repetition so that
# machine noise hits all alike; medians of `runs`, raw values listed.
#   bash tests/bench/bench_dist.sh [runs] [steps]
# Every run is `steps` steps of 64 images per rank (2 ranks: twice the images). The
# C++ figure is fer-train end to end over its one epoch (real loader with augmentation
# on a background thread, first steps included); the Python figure is a bare loop on a
# fixed batch after 3 warm-up steps, which favours Python. Each side gets jemalloc and
# OpenBLAS (fer-train links jemalloc; Python gets LD_PRELOAD). Debian's torchrun
# crashes with Python 3.11 unless given --redirects 2 --tee 1.
source "$(dirname "$0")/lib.sh" dist
runs="${1:-3}"
steps="${2:-40}"
require_python_torch
# Open MPI refuses to run as root without these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# fer-shard keeps 80% for training: 2 ranks x `steps` x 64 must fit in the train split.
images=$((steps * 160 * 101 / 100 + 64)); [ "$images" -lt 6000 ] && images=6000
"$bin/fer-synth" --out "$work/synth" --images "$images" --format csv >/dev/null
"$bin/fer-shard" "$work/synth/fer2013.csv" --out "$work/shards" -q

cpp_run() {  # label ranks threads overlap -> global images/s; keeps the per-phase line
  local label=$1 ranks=$2 threads=$3 overlap=$4 run="r$RANDOM$RANDOM"
  local launch=()
  [ "$ranks" -gt 1 ] && launch=(mpiexec -np "$ranks" --bind-to core --map-by core)
  if ! OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" "${launch[@]}" "$bin/fer-train" \
      -c "$root/configs/bench.yaml" --set data.shards="$work/shards" --set checkpoint.dir="$work/runs" \
      --set data.limit_train_images=$((steps * 64 * ranks)) --set data.limit_val_images=64 \
      --set train.threads="$threads" --set train.epochs=1 --set dist.overlap="$overlap" \
      --run "$run" > "$work/$run.log" 2>&1; then
    echo "fer-train failed ($label):" >&2; tail -20 "$work/$run.log" >&2; exit 1
  fi
  python3 -c 'import json,sys; print(round(json.loads(open(sys.argv[1]).readline())["images_per_second"], 1))' \
    "$work/runs/$run/metrics.jsonl"
  # "data wait X, forward X, backward X, all-reduce wait X, optimizer X" -> 5 numbers
  grep "time per step" "$work/$run.log" |
    sed -E 's/.*data wait ([0-9.]+), forward ([0-9.]+), backward ([0-9.]+), all-reduce wait ([0-9.]+), optimizer ([0-9.]+);.*/\1 \2 \3 \4 \5/' \
    >> "$work/phases-$label.txt"
  # Each rank must really have done `steps` steps (the train split must be big enough).
  grep -q "($steps steps of 64)" "$work/$run.log" ||
    echo "  $label: not $steps steps per rank: $(grep -o 'train [0-9]* images per rank ([^)]*)' "$work/$run.log")" >> "$work/notes.txt"
  # Anything unexpected in the log (warnings, errors) is kept for the end.
  grep -iE "warn|error|fail" "$work/$run.log" | sed "s/^/  $label: /" >> "$work/notes.txt" || true
}
py_env() { env LD_PRELOAD="$jemalloc" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
  OMP_NUM_THREADS="$1" OPENBLAS_NUM_THREADS="$1" "${@:2}"; }
py_run() {  # threads -> images/s of train_loop.py (one process)
  py_env "$1" /usr/bin/python3 "$root/tests/bench/train_loop.py" "$1" "$steps" | sed 's/.*images\/s=//'
}
ddp_run() {  # extra ddp_train.py options -> global images/s of 2 ranks x 1 thread
  py_env 1 /usr/bin/python3 -m torch.distributed.run --nproc_per_node=2 --redirects 2 --tee 1 \
    "$root/tests/bench/ddp_train.py" 1 "$steps" --bind "$@" > "$work/ddp.log" 2>&1 ||
    { echo "ddp_train.py failed:" >&2; tail -20 "$work/ddp.log" >&2; exit 1; }
  grep -o 'images/s=[0-9.]*' "$work/ddp.log" | sed 's/images\/s=//'
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
col_median() { awk -v c="$1" '{print $c}' "$2" | median; }  # column of a phases file
f() { printf '%.*f' "${2:-1}" "$(echo "$1" | bc -l)"; }

echo "data-parallel training throughput, configs/bench.yaml (1.21 M parameters, batch 64 per rank),"
echo "$steps steps per rank, $runs runs (median), $(nproc) cores, $images synthetic images; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
labels=(A a B b C c D d)
declare -A raw
for ((r = 1; r <= runs; r++)); do
  for l in "${labels[@]}"; do
    case $l in
      A) v=$(cpp_run A 1 1 true) ;;
      a) v=$(py_run 1) ;;
      B) v=$(cpp_run B 2 1 true) ;;
      b) v=$(ddp_run) ;;
      C) v=$(cpp_run C 1 2 true) ;;
      c) v=$(py_run 2) ;;
      D) v=$(cpp_run D 2 1 false) ;;
      d) v=$(ddp_run --no-overlap) ;;
    esac
    raw[$l]="${raw[$l]:+${raw[$l]} }$v"
    echo "  run $r/$runs $l: $v img/s" >&2
  done
  loads="${loads:+$loads, }$(cut -d' ' -f1 /proc/loadavg)"
done
declare -A med
for l in "${labels[@]}"; do med[$l]=$(tr ' ' '\n' <<< "${raw[$l]}" | median); done

echo "load average (1 min) after each repetition: $loads (2 = this benchmark's own 2 ranks; more = other work)"
echo
names=([0]="A 1 rank x 1 thread" [1]="B 2 ranks x 1 thread" [2]="C 1 rank x 2 threads" [3]="D 2 ranks x 1, no overlap")
echo "raw global img/s (C++ = fer-train; Python = train_loop.py for A/C, DDP gloo for B/D):"
i=0
for l in A B C D; do
  p=${l,,}
  printf '  %-26s C++ %-26s Python %s\n' "${names[$i]}" "${raw[$l]}" "${raw[$p]}"
  i=$((i + 1))
done
echo

a=${med[A]} b=${med[B]} c=${med[C]} d=${med[D]}
echo "C++ (fer-train, MPI):"
echo "  scaling efficiency 1 -> 2 ranks  B/(2A) = $(f "100 * $b / (2 * $a)")%   (target >= 95%, i.e. B >= 1.9x A: $(f "$b / $a" 2)x)"
echo "  2 ranks vs 1 rank x 2 threads    B/C    = $(f "$b / $c" 2)x   (target >= 1.4x)"
echo "  overlap on vs off                B/D    = $(f "$b / $d" 3)x"
echo "  time per step, rank 0, median over runs (ms):"
printf '    %-4s %9s %9s %9s %14s %9s %9s %16s\n' "" "data wait" forward backward "all-reduce wait" optimizer "sum" "64000/(img/s/2)"
declare -A wait_ms
for l in B D; do
  read -r dw fw bw ar op <<< "$(for k in 1 2 3 4 5; do col_median $k "$work/phases-$l.txt"; done | tr '\n' ' ')"
  sum=$(echo "$dw + $fw + $bw + $ar + $op" | bc -l)
  step=$(echo "64000 / (${med[$l]} / 2)" | bc -l)
  wait_ms[$l]=$ar
  printf '    %-4s %9.2f %9.2f %9.2f %14.2f %9.2f %9.1f %16.1f\n' "$l" "$dw" "$fw" "$bw" "$ar" "$op" "$sum" "$step"
  [ "$l" = B ] && exposed="$(f "100 * $ar / $step" 2)% of step time from img/s, $(f "100 * $ar / $sum" 2)% of the phase sum"
done
echo "  exposed all-reduce wait (B): $exposed   (target < 5%)"
echo "  overlap hides wait(D) - wait(B) = $(f "${wait_ms[D]} - ${wait_ms[B]}" 2) ms per step"
echo "  per-run phases (data wait, forward, backward, all-reduce wait, optimizer):"
for l in A B C D; do echo "    $l: $(paste -sd';' "$work/phases-$l.txt" | sed 's/;/; /g')"; done
echo
pa=${med[a]} pb=${med[b]} pc=${med[c]} pd=${med[d]}
echo "Python (DDP, gloo):"
echo "  scaling efficiency 1 -> 2 ranks  b/(2a) = $(f "100 * $pb / (2 * $pa)")%"
echo "  2 ranks vs 1 process x 2 threads b/c    = $(f "$pb / $pc" 2)x"
echo "  overlap on vs off                b/d    = $(f "$pb / $pd" 3)x"
if [ -s "$work/notes.txt" ]; then echo; echo "notes (warnings/errors in fer-train logs, step counts):"; sort -u "$work/notes.txt"; fi
echo
echo "summary (medians, global img/s):"
printf '  %-28s %10s %14s %8s\n' configuration "C++" "Python/DDP" ratio
i=0
for l in A B C D; do
  p=${l,,}
  printf '  %-28s %10.1f %14.1f %8.2f\n' "${names[$i]}" "${med[$l]}" "${med[$p]}" "$(echo "${med[$l]} / ${med[$p]}" | bc -l)"
  i=$((i + 1))
done
printf '  %-28s %9.1f%% %13.1f%%\n' "scaling efficiency B/(2A)" "$(echo "100 * $b / (2 * $a)" | bc -l)" "$(echo "100 * $pb / (2 * $pa)" | bc -l)"
