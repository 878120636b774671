#!/usr/bin/env bash
# Benchmark of fer-shard and the shard reader (prints figures; not a test).
#   bash tests/bench/bench_shard.sh [runs]
# Uses real FER2013 from ../shared/datasets/fer2013 when present (32,298 images,
# folder edition, and the same images written as fer2013.csv); otherwise a
# fer-synth set of the same size. Runs alternate folder / CSV (A B A B) so that
# machine noise hits both alike; medians are reported. Files are in the page cache.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${FER_BIN:-$root/build/bin}"
runs="${1:-5}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fer-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT
archive="$root/../shared/datasets/fer2013/fer2013-train-publictest.tar.gz"

if [ -f "$archive" ]; then
  data="real FER2013 (train + PublicTest)"
  mkdir -p "$work/data"
  tar -xzf "$archive" -C "$work/data"
  folder=$(dirname "$(find "$work/data" -maxdepth 3 -type d -name train | head -1)")
else
  data="fer-synth (real FER2013 not found at $archive)"
  "$bin/fer-synth" --out "$work/synth" --images 32298 --image-ext .jpg --format folder >/dev/null
  folder="$work/synth/images"
fi
"$bin/fer-bench-folder-to-csv" "$folder" "$work/fer2013.csv" >/dev/null
images=$(find "$folder" -type f | wc -l)  # counted before anything else is written
csv_mb=$(du -m "$work/fer2013.csv" | cut -f1)

seconds() {
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null || { echo "benchmark command failed: $*" >&2; kill $$; }
  e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
folder_times=(); csv_times=()
for ((r = 0; r < runs; r++)); do
  folder_times+=("$(seconds "$bin/fer-shard" "$folder" --out "$work/shards/folder" --overwrite -q)")
  csv_times+=("$(seconds "$bin/fer-shard" "$work/fer2013.csv" --out "$work/shards/csv" --overwrite -q)")
done
folder_median=$(printf '%s\n' "${folder_times[@]}" | median)
csv_median=$(printf '%s\n' "${csv_times[@]}" | median)

echo "fer-shard benchmark on $(nproc) cores, $data: $images images, $runs runs each (A B alternating)"
printf '  %-34s median %6.2f s  (%s)  %8.0f images/s\n' "folder edition (JPEG)" "$folder_median" \
  "$(printf '%s ' "${folder_times[@]}" | xargs printf '%.2f ')" "$(echo "$images / $folder_median" | bc -l)"
printf '  %-34s median %6.2f s  (%s)  %8.0f images/s\n' "fer2013.csv (${csv_mb} MB)" "$csv_median" \
  "$(printf '%s ' "${csv_times[@]}" | xargs printf '%.2f ')" "$(echo "$images / $csv_median" | bc -l)"
"$bin/fer-bench-reader" "$work/shards/folder" train 9
