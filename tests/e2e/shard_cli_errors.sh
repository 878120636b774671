#!/usr/bin/env bash
# What users see when something is wrong: the message names the file and line (or
# file name) and what was expected, and the exit code says it failed.
source "$(dirname "$0")/lib.sh"

expect_exit 0 "$FER_BIN/fer-shard" --help
assert_output_contains "fer2013.csv"
assert_output_contains "--skip-invalid"

"$FER_BIN/fer-synth" --out synth --images 70 --format csv --seed 1
# Row 5 gets a pixel value of 300; row 9 an unknown label.
python3 - <<'PY'
lines = open("synth/fer2013.csv").read().splitlines()
e, p, u = lines[4].split(","); q = p.split(); q[10] = "300"; lines[4] = ",".join([e, " ".join(q), u])
e, p, u = lines[8].split(","); lines[8] = ",".join(["8", p, u])
open("bad.csv", "w").write("\n".join(lines) + "\n")
PY
expect_exit 2 "$FER_BIN/fer-shard" bad.csv --out shards/bad
assert_output_contains "bad.csv:5: pixels: value 300 at position 11 is outside 0..255"
[ ! -e shards/bad ] || fail "a failed run left output"
[ -z "$(ls -A shards 2>/dev/null)" ] || fail "a failed run left files: $(ls -A shards)"

expect_exit 0 "$FER_BIN/fer-shard" bad.csv --out shards/bad --skip-invalid
assert_output_contains "skipped invalid items: 2"
assert_output_contains "bad.csv:9: emotion: '8' is not a FER2013 label id"
[ "$(json_get shards/bad/manifest.json "m['created_by']['report']['skipped_invalid']")" = 2 ] || fail "skips not in manifest"

expect_exit 2 "$FER_BIN/fer-shard" bad.csv --out shards/bad
assert_output_contains "already exists; pass --overwrite"

expect_exit 2 "$FER_BIN/fer-shard" missing.csv
assert_output_contains "missing.csv: no such file or directory"
: > empty.csv
expect_exit 2 "$FER_BIN/fer-shard" empty.csv --out shards/empty
assert_output_contains "empty.csv: empty file"

# Damaged shards: detected by --inspect, exit code 3.
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/good
shard=$(ls shards/good/train-*.h5 | head -1)
printf 'X' | dd of="$shard" bs=1 seek=5000 conv=notrunc status=none
expect_exit 3 "$FER_BIN/fer-shard" --inspect shards/good --verify
assert_output_contains "$shard: SHA-256 is"
truncate -s -100 "$shard"
expect_exit 3 "$FER_BIN/fer-shard" --inspect shards/good
assert_output_contains "truncated or modified"
echo "e2e shard_cli_errors: ok"
