#!/usr/bin/env bash
# fer-synth -> fer-shard for every input form (CSV, image folders as JPEG, CSV +
# FERPlus), checked with independent tools: sha256sum against the manifest, h5ls
# for the documented layout, and the CSV and folder data sets agree class by class.
source "$(dirname "$0")/lib.sh"

"$FER_BIN/fer-synth" --out synth --images 1400 --ferplus --image-ext .jpg --seed 3
[ -f synth/fer2013.csv ] && [ -f synth/fer2013new.csv ] && [ -d synth/images/train/happy ] || fail "fer-synth output"

"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/csv --images-per-shard 300
"$FER_BIN/fer-shard" synth/images --out shards/folder --images-per-shard 300
"$FER_BIN/fer-shard" synth/fer2013.csv --ferplus synth/fer2013new.csv --out shards/plus --name plus
for d in csv folder plus; do
  expect_exit 0 "$FER_BIN/fer-shard" --inspect "shards/$d" --verify
  assert_output_contains "SHA-256 verified"
  # An independent checker: sha256sum must agree with every manifest entry.
  python3 - "shards/$d" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]; m = json.load(open(os.path.join(d, "manifest.json")))
for split, entry in m["splits"].items():
    assert sum(s["images"] for s in entry["shards"]) == entry["images"], split
    for s in entry["shards"]:
        data = open(os.path.join(d, s["file"]), "rb").read()
        assert hashlib.sha256(data).hexdigest() == s["sha256"], s["file"]
        assert len(data) == s["bytes"], s["file"]
PY
done

# CSV and folder editions of the same synthetic set give the same per-split class counts.
for s in train val test; do
  a=$(json_get shards/csv/manifest.json "m['splits']['$s']['class_counts']")
  b=$(json_get shards/folder/manifest.json "m['splits']['$s']['class_counts']")
  [ "$a" = "$b" ] || fail "split $s: csv $a vs folder $b"
done
[ "$(json_get shards/csv/manifest.json "m['splits']['train']['images']")" = 1120 ] || fail "train count"
[ "$(json_get shards/csv/manifest.json "len(m['splits']['train']['shards'])")" = 4 ] || fail "train shards"
[ "$(json_get shards/plus/manifest.json "m['has_soft_labels']")" = True ] || fail "FERPlus soft labels"
[ "$(json_get shards/plus/manifest.json "m['created_by']['report']['ferplus_dropped_no_majority'] > 0")" = True ] \
  || fail "FERPlus drops not reported"

# The documented layout, read by HDF5's own tool.
if command -v h5ls >/dev/null; then
  h5ls -r shards/plus/train-00000-of-00001.h5 > layout.txt
  grep -q '^/images .*{1[0-9]*, 48, 48}' layout.txt || { cat layout.txt; fail "images dataset"; }
  for name in labels sources soft_labels ferplus_votes; do grep -q "^/$name " layout.txt || fail "no /$name"; done
fi
echo "e2e synth_to_shards: ok"
