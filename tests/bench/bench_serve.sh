#!/usr/bin/env bash
# fer-serve load benchmark (prints figures; not a test). Trains the reference model
# (configs/bench.yaml) for one short epoch to get a checkpoint of the right shape, starts
# fer-serve on loopback and drives it with wrk (Debian package; installed when missing):
#   - single 48x48 faces (?detect=0) at 1, 8 and 32 connections: requests/s, p50, p99;
#   - the same at 32 connections at a constant offered rate (250 and 500 requests/s),
#     latency at a given load rather than at saturation;
#   - the same at 32 connections without micro-batching (--max-batch 1 --max-wait-ms 0),
#     to show what batching buys;
#   - 640x480 photos with face detection at 8 connections;
#   - resident memory before and after `requests` more single-face requests (flat = no
#     leak), and the server's own histograms (faces per forward pass).
#   bash tests/bench/bench_serve.sh [seconds per point, default 10] [requests, default 100000]
#   FER_SERVE_ARGS="--precision bf16" bash tests/bench/bench_serve.sh   (extra fer-serve flags)
# Targets (fer-serve issue): >= 500 requests/s of single 48x48 faces with p99 < 20 ms
# under 32 connections on 2 cores.
source "$(dirname "$0")/lib.sh" serve
seconds="${1:-10}"
requests="${2:-100000}"
for tool in fer-synth fer-shard fer-train fer-serve fer-test-predict-fixtures; do
  [ -x "$bin/$tool" ] || { echo "missing $bin/$tool: build it first" >&2; exit 1; }
done
if ! command -v wrk >/dev/null; then
  echo "installing Debian's wrk" >&2
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q wrk >/dev/null
fi
cd "$work"
gcc -O3 -mavx2 -mfma -fopenmp "$root/tests/bench/fma_peak.c" -o fma_peak 2>/dev/null &&
  echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), FMA peak $(OMP_NUM_THREADS=$(nproc) ./fma_peak | sort -g | tail -1) GFLOP/s"

"$bin/fer-synth" --out synth --images 600 --format csv --seed 3 >/dev/null
"$bin/fer-shard" synth/fer2013.csv --out shards -q
"$bin/fer-train" -c "$root/configs/bench.yaml" --set data.shards=shards --set checkpoint.dir=runs \
  --set data.limit_train_images=256 --set data.limit_val_images=64 --set train.epochs=1 \
  --run bench -q >/dev/null
"$bin/fer-test-predict-fixtures" face face48.png
"$bin/fer-test-predict-fixtures" photo photo.png --width 640 --height 480 --side 160

cat >post.lua <<'LUA'
-- POSTs the file named by FER_BODY as image/png.
local f = assert(io.open(os.getenv("FER_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "image/png"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.3f %.3f\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

# The same requests sent at a constant total rate (FER_RATE per second over all
# connections), as wrk2 or a load balancer in front of users would: wrk alone keeps every
# connection busy, so at 32 connections it measures latency at saturation (32 requests
# always queued), not at a given load. Each wrk thread spaces its sends by
# threads/FER_RATE seconds on a fixed schedule; after late answers it catches up at once
# (by at most 10 sends), so a server slower than the rate shows as a lower achieved rate.
sed -e '/^done = /,$d' post.lua >paced.lua
cat >>paced.lua <<'LUA'
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } fer_timespec;
int clock_gettime(int clock, fer_timespec* out);
]]
local now_ts = ffi.new("fer_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, now_ts)  -- CLOCK_MONOTONIC
  return tonumber(now_ts.tv_sec) * 1000 + tonumber(now_ts.tv_nsec) / 1e6
end
local interval_ms, next_ms
init = function(args)
  interval_ms = 1000 * tonumber(os.getenv("FER_THREADS")) / tonumber(os.getenv("FER_RATE"))
end
delay = function()
  local t = now_ms()
  next_ms = math.max((next_ms or t) + interval_ms, t - 10 * interval_ms)
  return math.max(0, next_ms - t)
end
LUA
sed -n '/^done = /,$p' post.lua >>paced.lua

serve_pid=
start() {  # fer-serve arguments
  # shellcheck disable=SC2086  # FER_SERVE_ARGS is a list of words
  "$bin/fer-serve" --checkpoints-dir runs -k bench --port 0 -q ${FER_SERVE_ARGS:-} "$@" >serve.out 2>serve.err &
  serve_pid=$!
  for _ in $(seq 300); do
    url=$(sed -n 's|^fer-serve: serving .* on \(http://[^ ]*/\) .*|\1|p' serve.out)
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  cat serve.err >&2
  exit 1
}
stop() { kill "$serve_pid"; wait "$serve_pid" || true; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$serve_pid/status"; }
report() {  # label connections < wrk's output: one line from post.lua's RESULT
  local total errors rate p50 p99
  read -r _ total errors rate p50 p99 < <(grep '^RESULT')
  printf '  %-44s %4d conns %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%d requests, %d errors)\n' \
    "$1" "$2" "$rate" "$p50" "$p99" "$total" "$errors"
}
load() {  # label connections body query [duration]
  FER_BODY="$3" wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "${5:-$seconds}s" -s post.lua \
    "${url}v1/predict$4" | report "$1" "$2"
}

paced() {  # label connections rate body query
  FER_BODY="$4" FER_RATE="$3" FER_THREADS=2 wrk -t2 -c "$2" -d "${seconds}s" -s paced.lua \
    "${url}v1/predict$5" | report "$1 ($3/s offered)" "$2"
}

echo "fer-serve on 127.0.0.1, configs/bench.yaml's model, wrk for ${seconds}s per point:"
start
load "warm-up" 8 face48.png "?detect=0" 3 >/dev/null
for conns in 1 8 32; do load "48x48 faces (?detect=0), micro-batching" "$conns" face48.png "?detect=0"; done
for rate in 250 500; do paced "48x48 faces at a constant rate" 32 "$rate" face48.png "?detect=0"; done
load "640x480 photos, Haar detection" 8 photo.png ""
python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "${url}metrics" | awk '/^fer_serve_batch_faces_(sum|count)/ {v[$1] = $2} END {
  printf "  faces per forward pass, mean over the run: %.1f\n", v["fer_serve_batch_faces_sum"] / v["fer_serve_batch_faces_count"]}'
stop

start --max-batch 1 --max-wait-ms 0
load "warm-up" 8 face48.png "?detect=0" 3 >/dev/null
load "48x48 faces, no micro-batching (--max-batch 1)" 32 face48.png "?detect=0"
stop

echo "memory over $requests single-face requests (32 connections):"
start
load "warm-up" 32 face48.png "?detect=0" 3 >/dev/null
before=$(rss_mib)
rate=$(FER_BODY=face48.png wrk -t2 -c32 -d3s -s post.lua "${url}v1/predict?detect=0" | awk '/^RESULT/ {print $4}')
duration=$(python3 -c "import math; print(max(5, math.ceil($requests / max($rate, 1))))")
load "48x48 faces" 32 face48.png "?detect=0" "$duration"
after=$(rss_mib)
echo "  resident memory: $before MiB before, $after MiB after"
stop
