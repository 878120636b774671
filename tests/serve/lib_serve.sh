# Helpers for the fer-serve scripts (on top of tests/e2e/lib.sh).
# shellcheck shell=bash
source "$FER_ROOT/tests/e2e/lib.sh"
serve_pids=()
trap 'for p in "${serve_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# train_tiny_model RUN [EPOCHS] : the tiny preset on fer-synth faces, a few seconds, in runs/RUN.
train_tiny_model() {
  local run=$1 epochs=${2:-2}
  [ -d synth ] || "$FER_BIN/fer-synth" --out synth --images 1500 --format csv --seed 5 >/dev/null
  [ -d shards/synth ] || "$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
  "$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth \
    --set checkpoint.dir=runs --set train.epochs="$epochs" --set train.threads=1 --run "$run" -q
}

# start_serve NAME ARGS... : starts fer-serve --port 0 ARGS in the background (output in
# NAME.out / NAME.err) and sets serve_pid and serve_url once it prints its address.
start_serve() {
  local name=$1
  shift
  "$FER_BIN/fer-serve" --checkpoints-dir runs --port 0 "$@" >"$name.out" 2>"$name.err" &
  serve_pid=$!
  serve_pids+=("$serve_pid")
  serve_url=
  for _ in $(seq 300); do
    serve_url=$(sed -n 's|^fer-serve: serving .* on \(http://[^ ]*/\) .*|\1|p' "$name.out")
    [ -n "$serve_url" ] && return 0
    kill -0 "$serve_pid" 2>/dev/null || { cat "$name.err" >&2; fail "fer-serve ($name) exited"; }
    sleep 0.1
  done
  cat "$name.err" >&2
  fail "fer-serve ($name) did not print its address within 30 s"
}
