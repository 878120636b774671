#!/usr/bin/env bash
# Real FER2013 (folder edition, train + PublicTest) from ../shared/datasets/fer2013:
# shards it and checks the per-class counts of that data set's README. Skips (77)
# when the data is absent, as it is on a user's machine.
source "$(dirname "$0")/lib.sh"
extract_real_fer2013
root="$REAL_FER2013"
"$FER_BIN/fer-shard" "$root" --out shards/fer2013 --name fer2013
"$FER_BIN/fer-shard" --inspect shards/fer2013 --verify
m=shards/fer2013/manifest.json
# README of the data set: train / PublicTest counts in FER2013 id order.
[ "$(json_get $m "m['splits']['train']['class_counts']")" = "[3995, 436, 4097, 7215, 4830, 3171, 4965]" ] \
  || fail "train counts: $(json_get $m "m['splits']['train']['class_counts']")"
[ "$(json_get $m "m['splits']['val']['class_counts']")" = "[467, 56, 496, 895, 653, 415, 607]" ] \
  || fail "val counts: $(json_get $m "m['splits']['val']['class_counts']")"
[ "$(json_get $m "m['splits']['train']['images']")" = 28709 ] || fail "train total"
[ "$(json_get $m "m['splits']['val']['images']")" = 3589 ] || fail "val total"
[ "$(json_get $m "m['splits']['test']['images']")" = 0 ] || fail "test should be empty (PrivateTest withheld)"
[ "$(json_get $m "m['created_by']['report']['converted_to_48x48_gray']")" = 0 ] || fail "48x48 gray expected"
echo "realdata shard_fer2013_folders: ok"
