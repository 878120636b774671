#!/usr/bin/env bash
# fer-predict end to end, with a real (tiny, quickly trained) model on real files:
# a face drawn into a larger picture is found and gets a probability distribution;
# --no-detect classifies a 48x48 face; a truncated JPEG, a text file named .jpg and
# other bad files are reported while the rest are processed (exit 1); JSON lines parse;
# paths from a list file and stdin; annotated copies; a short video written with OpenCV
# gives one record per sampled frame, and an annotated video; usage errors exit 2.
source "$(dirname "$0")/lib.sh"

fixtures="$FER_BIN/fer-test-predict-fixtures"
[ -x "$fixtures" ] || fail "$fixtures is not built (cmake --build BUILD --target fer-test-predict-fixtures)"
[ -f /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml ] ||
  fail "the Haar cascade is missing: install Debian's opencv-data (launch/setup.sh does)"

# A model: the tiny preset, 2 epochs on fer-synth faces (a few seconds). One thread:
# CTest runs tests side by side, and two-thread BLAS waits badly on a busy 2-core machine.
"$FER_BIN/fer-synth" --out synth --images 1500 --format csv --seed 5 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
"$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth \
  --set checkpoint.dir=runs --set train.epochs=2 --set train.threads=1 --run p -q
predict=("$FER_BIN/fer-predict" --checkpoints-dir runs --threads 1)

# check_records FILE PYTHON... : runs Python with `records` = the parsed JSON lines of FILE.
check_records() {
  local file=$1
  shift
  python3 - "$file" "$@" <<'PY' || { cat "$file" >&2; fail "records in $file: $*"; }
import json, math, sys
records = [json.loads(line) for line in open(sys.argv[1])]
def distribution_ok(r):
    p = r["probabilities"]
    top = [t["probability"] for t in r["top"]]
    return (len(p) == 7 and abs(sum(p.values()) - 1) < 1e-6 and all(0 <= v <= 1 for v in p.values())
            and top == sorted(top, reverse=True) and r["emotion"] == r["top"][0]["emotion"])
for check in sys.argv[2:]:
    assert eval(check), check
PY
}

# --- usage errors: exit 2 -------------------------------------------------------
expect_exit 0 "${predict[@]}" --help
assert_output_contains "--no-detect"
assert_output_contains "Exit codes: 0 every input processed"
expect_exit 2 "${predict[@]}"
assert_output_contains "no input"
expect_exit 2 "${predict[@]}" --top-k 9 x.png
expect_exit 2 "${predict[@]}" --no-such-option x.png
expect_exit 2 "${predict[@]}" --checkpoint no-such-run x.png
assert_output_contains "checkpoint 'no-such-run' not found"
expect_exit 2 "${predict[@]}" --cascade /no/such/cascade.xml x.png
assert_output_contains "/no/such/cascade.xml: no such file"
expect_exit 2 "${predict[@]}" --list no-such-list.txt
assert_output_contains "no-such-list.txt: cannot open the list file"
head -c 2000 runs/p/best.pt > damaged.pt
expect_exit 3 "${predict[@]}" --checkpoint damaged.pt x.png

# --- a face drawn into a larger picture is found --------------------------------
"$fixtures" photo photo.png --width 640 --height 480 --faces 1 --side 150
expect_exit 0 "${predict[@]}" --json photo.png
cp "$WORK/out.txt" all.txt
grep '^{' all.txt > one-face.jsonl
check_records one-face.jsonl 'len(records) == 1' 'records[0]["status"] == "face"' \
  'records[0]["detected"]' 'distribution_ok(records[0])' 'len(records[0]["top"]) == 3' \
  'records[0]["box"]["x"] < 320 < records[0]["box"]["x"] + records[0]["box"]["width"]' \
  'records[0]["box"]["y"] < 240 < records[0]["box"]["y"] + records[0]["box"]["height"]' \
  '(records[0]["width"], records[0]["height"]) == (640, 480)'
"$fixtures" photo two.jpg --width 800 --height 400 --faces 2 --side 140
"${predict[@]}" --json --top-k 1 two.jpg > two.jsonl
check_records two.jsonl 'len(records) == 2' 'all(distribution_ok(r) for r in records)' \
  'records[0]["box"]["x"] < records[1]["box"]["x"]' 'all(len(r["top"]) == 1 for r in records)' \
  '[r["face"] for r in records] == [0, 1]'

# --- --no-detect on a 48x48 face; no face, and --fallback whole -------------------
"$fixtures" face face48.png
"${predict[@]}" --json --no-detect face48.png > face48.jsonl
check_records face48.jsonl 'len(records) == 1' 'not records[0]["detected"]' \
  'records[0]["box"] == {"x": 0, "y": 0, "width": 48, "height": 48}' 'distribution_ok(records[0])'
"$fixtures" photo blank.png --faces 0
"${predict[@]}" --json blank.png > blank.jsonl
check_records blank.jsonl 'len(records) == 1' 'records[0]["status"] == "no_face"' 'records[0]["faces"] == 0'
"${predict[@]}" --json --fallback whole blank.png > fallback.jsonl
check_records fallback.jsonl 'records[0]["status"] == "face"' 'not records[0]["detected"]' \
  'distribution_ok(records[0])'

# --- bad files are reported, the others processed --------------------------------
mkdir -p photos/sub
cp photo.png photos/a-face.png
cp face48.png photos/sub/b-face48.png
"$fixtures" photo photos/c-full.jpg --faces 1 --side 150
head -c 6000 photos/c-full.jpg > photos/d-corrupt.jpg   # truncated JPEG
echo "just some text" > photos/e-text.jpg
: > photos/f-empty.png
python3 - <<'PY'   # an 8x8 PNG whose header claims 30000 x 30000 pixels
import struct, zlib
raw = b"".join(b"\0" + bytes(8) for _ in range(8))
def chunk(kind, data): return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)) \
      + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open("photos/g-huge.png", "wb").write(png)
PY
echo "notes" > photos/readme.txt   # not an image extension: not walked
expect_exit 1 "${predict[@]}" --json photos missing.png
grep '^{' "$WORK/out.txt" > mixed.jsonl
grep -v '^{' "$WORK/out.txt" > mixed.err
check_records mixed.jsonl 'len(records) == 8' \
  '[r["file"].split("/")[-1] for r in records] == ["a-face.png", "c-full.jpg", "d-corrupt.jpg", "e-text.jpg", "f-empty.png", "g-huge.png", "b-face48.png", "missing.png"]' \
  'records[0]["status"] == "face" and distribution_ok(records[0])' \
  'records[1]["status"] == "face" and distribution_ok(records[1])' \
  '"truncated or damaged JPEG" in records[2]["error"]' \
  '"not an image" in records[3]["error"]' \
  '"empty file" in records[4]["error"]' \
  '"30000x30000 PNG image exceeds the size limit" in records[5]["error"]' \
  'records[6]["status"] in ("face", "no_face")' \
  'records[7]["error"] == "no such file"' \
  'sum(r["status"] == "error" for r in records) == 5'
for name in d-corrupt.jpg e-text.jpg f-empty.png g-huge.png missing.png; do
  grep -q "^fer-predict: error: .*$name: " mixed.err || { cat mixed.err >&2; fail "no error line for $name"; }
done
grep -q "failed" mixed.err || fail "no summary line"

# The default table: one row per face / image, reasons for failures.
expect_exit 1 "${predict[@]}" photos
assert_output_contains "top 3"
assert_output_contains "failed: truncated or damaged JPEG"
assert_output_contains "photos/a-face.png"

# Paths from a list file and from stdin: the same records as the directory.
find photos -type f ! -name '*.txt' | sort > list.txt
printf '# a comment\n\n' >> list.txt
"${predict[@]}" --json --list list.txt > from-list.jsonl || true
sort list.txt | grep -v '^#' | "${predict[@]}" --json - > from-stdin.jsonl || true
check_records from-list.jsonl 'len(records) == 7' 'sum(r["status"] == "error" for r in records) == 4'
cmp from-list.jsonl from-stdin.jsonl || fail "list file and stdin differ"

# --- annotated copies under the same relative names -----------------------------
expect_exit 1 "${predict[@]}" -q photos --annotate annotated
[ -f annotated/a-face.png ] && [ -f annotated/c-full.jpg ] && [ -f annotated/sub/b-face48.png ] ||
  fail "annotated copies missing: $(find annotated -type f)"
[ ! -e annotated/d-corrupt.jpg ] || fail "a failed input got an annotated copy"
[ -z "$(find annotated -name '.*')" ] || fail "temporary files left: $(find annotated -name '.*')"
"${predict[@]}" --json --no-detect annotated > reread.jsonl   # every copy decodes
check_records reread.jsonl 'len(records) == 3' 'all(r["status"] == "face" for r in records)' \
  '[(r["width"], r["height"]) for r in records][0] == (640, 480)'

# --- a short video: one record per sampled frame, and an annotated video ---------
"$fixtures" video clip.avi --frames 12 --fps 10 --width 640 --height 480
expect_exit 0 "${predict[@]}" --json --video clip.avi --every 4 --annotate annotated-video
grep '^{' "$WORK/out.txt" > video.jsonl
check_records video.jsonl 'len(records) == 3' '[r["frame"] for r in records] == [0, 4, 8]' \
  'all(abs(r["time"] - r["frame"] / 10) < 1e-3 for r in records)' \
  'all(r["status"] == "face" and distribution_ok(r) for r in records)' \
  'records[0]["box"]["x"] < records[2]["box"]["x"]'
[ -s annotated-video/clip.avi ] || fail "no annotated video"
[ -z "$(find annotated-video -name '.*')" ] || fail "temporary video left"
"${predict[@]}" --json --no-detect --video annotated-video/clip.avi > reread-video.jsonl
check_records reread-video.jsonl 'len(records) == 12' '[r["frame"] for r in records] == list(range(12))'
expect_exit 1 "${predict[@]}" --json --video photos/e-text.jpg
assert_output_contains '"status":"error"'
echo "e2e predict: ok"
