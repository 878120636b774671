#!/usr/bin/env bash
# An interrupted fer-shard (kill -9 at several moments) never leaves a half-written
# data set where users look: the output directory is always the complete previous
# one or the complete new one, and the next run removes the hidden staging folder.
source "$(dirname "$0")/lib.sh"

"$FER_BIN/fer-synth" --out synth --images 20000 --format csv --seed 2 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/d --images-per-shard 500 --seed 1 -q
before=$(sha256sum shards/d/manifest.json)
for delay in 0.05 0.2 0.4 0.6 0.8 1.0; do
  "$FER_BIN/fer-shard" synth/fer2013.csv --out shards/d --images-per-shard 400 --seed 2 --overwrite -q &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  expect_exit 0 "$FER_BIN/fer-shard" --inspect shards/d --verify
  now=$(json_get shards/d/manifest.json "m['created_by']['options']['images_per_shard']")
  echo "killed after ${delay}s: output is the $([ "$now" = 500 ] && echo previous || echo new) data set"
  ls -A shards | grep -v '^\.d\.staging-' | grep -qx d || fail "unexpected entries: $(ls -A shards)"
done
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/d --overwrite -q
[ "$(ls -A shards)" = d ] || fail "staging left after a completed run: $(ls -A shards)"
echo "e2e interrupted_shard_run: ok (previous manifest was: ${before%% *})"
