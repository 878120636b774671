#!/usr/bin/env bash
# The dashboard as a browser renders it: fer-test-status-server serves a fixed status
# document (two runs; "demo" running, 3 epochs, a 7x7 confusion matrix with known
# counts) and Debian's headless Chromium loads http://127.0.0.1:PORT/.
#   1. --dump-dom: #summary reads "run demo: epoch 3, val accuracy 61.4%" (the running
#      run is shown by default) and #confusion has the 49 cells with the newest counts.
#   2. --screenshot: a 1280x1000 PNG that is not blank; kept as an artefact in
#      ${FER_SCREENSHOT_DIR:-<build>/screenshots}/dashboard.png.
#   3. /status answering 500: the #error banner shows it.
# Skips (77) without /usr/bin/chromium (launch/test.sh installs the package).
source "$FER_ROOT/tests/e2e/lib.sh"

chromium=/usr/bin/chromium
[ -x "$chromium" ] || { echo "SKIP: $chromium not installed (apt-get install chromium)"; exit 77; }
server_bin="$FER_BIN/fer-test-status-server"
[ -x "$server_bin" ] || fail "no $server_bin (build the fer-test-status-server target)"
screenshot_dir="${FER_SCREENSHOT_DIR:-$(dirname "$FER_BIN")/screenshots}"

# The status document and the figures the page must show. Counts differ per cell and
# per epoch, so a cell from the wrong matrix or in the wrong place is noticed.
python3 - status.json expected.json <<'PY'
import json, sys
classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
def matrix(epoch):
    diag = [40, 12, 30, 80, 35, 45, 50]
    return [diag[r] + 2 * epoch if r == c else (r * 3 + c * 5 + epoch) % 7
            for r in range(7) for c in range(7)]
metrics = []
for epoch in (1, 2, 3):
    cm = matrix(epoch)
    acc = sum(cm[i * 8] for i in range(7)) / sum(cm)
    metrics.append({"epoch": epoch, "split": "train", "train_loss": 1.9 - 0.3 * epoch,
                    "train_accuracy": 0.25 + 0.13 * epoch})
    metrics.append({"epoch": epoch, "split": "val", "val_loss": 1.8 - 0.22 * epoch,
                    "val_accuracy": acc, "val_macro_f1": acc - 0.05, "val_confusion_matrix": cm})
ranks = [{"rank": r, "host": "node-%d" % r, "pid": 4100 + r, "connected": r == 0,
          "heartbeat_age_seconds": 0.7 if r == 0 else 31.5, "epoch": 3, "step": 120 - r}
         for r in range(2)]
checkpoints = [{"file": "epoch-%04d.pt" % e, "epoch": e, "step": 40 * e, "bytes": 4812345,
                "sha256": "%064x" % e, "time": "2026-12-01T10:1%d:00Z" % e,
                "metrics": {"val_accuracy": metrics[2 * e - 1]["val_accuracy"]}}
               for e in (1, 2, 3)]
status = {
    "server": {"version": "0.1.0", "uptime_seconds": 3725.5, "listen": "127.0.0.1:7070",
               "connections": 2, "frames_received": 5120, "frames_refused": 0,
               "reports_received": 6, "bytes_ingested": 14436035},
    "runs": [
        {"run": "older", "world_size": 1, "state": "finished", "epoch": 1, "ranks": [],
         "metrics": [], "checkpoints": [], "pending_evals": []},
        {"run": "demo", "world_size": 2, "state": "running", "epoch": 3, "ranks": ranks,
         "metrics": metrics, "class_names": classes,
         "pending_evals": [{"split": "val", "epoch": 4, "reported_ranks": [0],
                            "missing_ranks": [1], "overdue": False}],
         "checkpoints": checkpoints, "latest": "epoch-0003.pt", "best": "epoch-0003.pt"},
    ],
}
json.dump(status, open(sys.argv[1], "w"), indent=1)
last = metrics[-1]
json.dump({"summary": "run demo: epoch 3, val accuracy %.1f%%" % (100 * last["val_accuracy"]),
           "cells": last["val_confusion_matrix"]}, open(sys.argv[2], "w"))
PY
summary=$(json_get expected.json "m['summary']")

"$server_bin" status.json 0 >server.out 2>server.err &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$WORK"' EXIT
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^port \([0-9]*\)$/\1/p' server.out)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat server.err >&2; fail "fer-test-status-server exited"; }
  sleep 0.1
done
[ -n "$port" ] || fail "fer-test-status-server did not report its port"
url="http://127.0.0.1:$port/"

# A fresh profile per call; nothing in the background may reach out of the machine.
browse() {
  local profile
  profile=$(mktemp -d "$WORK/profile-XXXXXX")
  timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$profile" "$@"
}

# 1. The rendered DOM: the page fetched /status and drew from it.
browse --virtual-time-budget=8000 --dump-dom "$url" >dom.html 2>chromium-dom.log ||
  { tail -20 chromium-dom.log >&2; fail "chromium --dump-dom failed"; }
python3 - dom.html expected.json <<'PY' || fail "the rendered dashboard is not as expected"
import json, sys
from html.parser import HTMLParser
expected = json.load(open(sys.argv[2]))

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.summary, self.cells, self.error_hidden = [], None, [], None
        self.in_summary = self.in_confusion = 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == "summary":
            self.in_summary, self.summary = 1, ""
        elif self.in_summary:
            self.in_summary += 1
        if a.get("id") == "confusion":
            self.in_confusion = 1
        elif self.in_confusion and tag not in ("br",):
            self.in_confusion += 1
            if tag == "td":
                self.cells.append(a.get("data-count"))
        if a.get("id") == "error":
            self.error_hidden = "hidden" in a
    def handle_endtag(self, tag):
        if self.in_summary:
            self.in_summary -= 1
        if self.in_confusion:
            self.in_confusion -= 1
    def handle_data(self, data):
        if self.in_summary:
            self.summary += data

page = Page()
page.feed(open(sys.argv[1], encoding="utf-8").read())
ok = True
if page.summary is None or page.summary.strip() != expected["summary"]:
    print("summary: %r, expected %r" % (page.summary, expected["summary"]))
    ok = False
want = [str(c) for c in expected["cells"]]
if page.cells != want:
    print("confusion cells (%d): %s\nexpected (%d): %s" % (len(page.cells), page.cells, len(want), want))
    ok = False
if page.error_hidden is not True:
    print("the error banner is showing")
    ok = False
sys.exit(0 if ok else 1)
PY
grep -qF "$summary" dom.html || fail "summary '$summary' not in the DOM"

# 2. A screenshot: right size and not blank (decoded with the standard library only).
browse --screenshot="$WORK/dashboard.png" --window-size=1280,1000 --virtual-time-budget=8000 \
  "$url" >chromium-shot.log 2>&1 || { tail -20 chromium-shot.log >&2; fail "chromium --screenshot failed"; }
[ -s dashboard.png ] || { tail -20 chromium-shot.log >&2; fail "no screenshot written"; }
python3 - dashboard.png <<'PY' || fail "the screenshot is wrong"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
if (width, height) != (1280, 1000):
    sys.exit("screenshot is %dx%d, expected 1280x1000" % (width, height))
assert depth == 8 and colour in (2, 6), "unexpected PNG format: depth %d colour %d" % (depth, colour)
idat, pos = b"", 8
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + length]
    pos += 12 + length
raw = zlib.decompress(idat)
bpp = 4 if colour == 6 else 3
stride = width * bpp
prev = bytearray(stride)
colours, blue = set(), 0
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            line[i] = (line[i] + line[i - bpp]) & 255
    elif f == 2:
        for i in range(stride):
            line[i] = (line[i] + prev[i]) & 255
    elif f == 3:
        for i in range(stride):
            line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:  # a sample of rows is plenty to tell a page from a blank one
        for x in range(0, stride, bpp * 2):
            r, g, b = line[x], line[x + 1], line[x + 2]
            colours.add((r, g, b))
            blue += b > 150 and r < 90  # the heat map's strong cells and the chart lines
    prev = line
print("screenshot %dx%d, %d distinct colours (sampled), %d strong-blue samples" % (width, height, len(colours), blue))
if len(colours) < 50:
    sys.exit("the screenshot looks blank: %d colours" % len(colours))
if blue < 200:
    sys.exit("no heat map or chart in the screenshot")
PY
# 3. /status failing (the file no longer parses: 500): the page says so in #error.
printf '{"runs": [' >status.json.tmp && mv status.json.tmp status.json
browse --virtual-time-budget=8000 --dump-dom "$url" >dom-error.html 2>chromium-error.log ||
  { tail -20 chromium-error.log >&2; fail "chromium --dump-dom failed"; }
python3 - dom-error.html <<'PY' || fail "no error banner while /status fails"
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<div id="error"([^>]*)>([^<]*)</div>', dom)
if not m or "hidden" in m.group(1) or "HTTP 500" not in m.group(2):
    sys.exit("error banner: %r" % (m.group(0) if m else None))
PY

mkdir -p "$screenshot_dir"
cp dashboard.png "$screenshot_dir/dashboard.png"
echo "dashboard OK: '$summary'; screenshot in $screenshot_dir/dashboard.png"
