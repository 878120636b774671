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
# The data-quality report finds what the data set's README lists: 1,035 sets of
# identical training images over 2,271 files, 39 of them with conflicting labels; 270
# distinct images in both train and PublicTest (351 train files, 280 PublicTest files);
# one blank PublicTest image. Blank training images: the README counts 11 (10 solid
# black); at pixel std < 2 the report finds 12: 11 solid black and one flat gray
# (Training_3542668, std 0.65).
q="m['created_by']['quality']"
[ "$(json_get $m "$q['identical_within_split']['train']['groups']")" = 1035 ] || fail "duplicate sets: $(json_get $m "$q['identical_within_split']['train']")"
[ "$(json_get $m "$q['identical_within_split']['train']['images']")" = 2271 ] || fail "duplicate images"
[ "$(json_get $m "$q['identical_within_split']['train']['conflicting_groups']")" = 39 ] || fail "conflicting sets"
[ "$(json_get $m "$q['identical_across_splits']['train_val']['distinct_images']")" = 270 ] || fail "leaks: $(json_get $m "$q['identical_across_splits']")"
[ "$(json_get $m "$q['identical_across_splits']['train_val']['train_images']")" = 351 ] || fail "leaking train images"
[ "$(json_get $m "$q['identical_across_splits']['train_val']['val_images']")" = 280 ] || fail "leaking val images"
[ "$(json_get $m "$q['blank']['train']")" = 12 ] || fail "train blanks: $(json_get $m "$q['blank']")"
[ "$(json_get $m "$q['blank']['val']")" = 1 ] || fail "val blanks"

# --dedupe: train loses the leaking, conflicting and blank images; val is untouched.
"$FER_BIN/fer-shard" "$root" --out shards/dedupe --name dedupe --dedupe | tee dedupe.txt
d=shards/dedupe/manifest.json
dropped=$(json_get $d "sum(m['created_by']['quality']['dropped_from_train'].values())")
[ "$(json_get $d "m['splits']['train']['images']")" = $((28709 - dropped)) ] || fail "train after --dedupe"
[ "$(json_get $d "m['splits']['val']['images']")" = 3589 ] || fail "val changed by --dedupe"
[ "$(json_get $d "m['created_by']['quality']['dropped_from_train']['leaks']")" = 351 ] || fail "leaks dropped"
grep -q -- "--dedupe dropped from train: 351 leaking" dedupe.txt || fail "--dedupe summary line"
echo "realdata shard_fer2013_folders: ok"
