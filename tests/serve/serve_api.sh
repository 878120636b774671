#!/usr/bin/env bash
# fer-serve's REST contract with a real (tiny) model on real files over real TCP:
#   1. usage: --help, a bad option, off loopback without a token or with a short one
#      (exit 2), a missing checkpoint (exit 2), --precision bf16 where the CPU lacks it;
#   2. POST /v1/predict, raw and multipart: the JSON schema, the same faces, boxes and
#      probabilities as fer-predict --json gives for the same file (within 1e-9);
#      ?detect=0 on a 48x48 face; a photo without a face;
#   3. errors: 400 (not an image, truncated), 413 (body over --max-body-mb; pixels over
#      the limit), 415, 404, 405, all as JSON {"error", "status"};
#   4. micro-batching: 24 concurrent requests with --max-wait-ms 100 share forward passes
#      (fer_serve_batch_requests shows passes with several requests);
#   5. a token: 401 without it, 200 with it (Bearer and ?token=), /healthz open;
#   6. hot reload under load: best.pt moved to another epoch (atomically, as the run
#      store does) while 4 clients send requests: the answers switch epochs, no request
#      fails; best.pt moved to a damaged file: a reload failure is counted, the old
#      model stays, no request fails;
#   7. SIGTERM: exit 0 with "stopped by SIGTERM".
source "$FER_ROOT/tests/serve/lib_serve.sh"
fixtures="$FER_BIN/fer-test-predict-fixtures"
[ -x "$fixtures" ] || fail "$fixtures is not built"
serve=("$FER_BIN/fer-serve" --checkpoints-dir runs)

train_tiny_model s 3
"$fixtures" photo photo.png --width 640 --height 480 --faces 2 --side 140
"$fixtures" photo blank.png --faces 0
"$fixtures" face face48.png
head -c 3000 photo.png > truncated.png
python3 -c 'import zlib,struct,sys
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))' > huge.png

# --- 1. usage -----------------------------------------------------------------------
expect_exit 0 "${serve[@]}" --help
assert_output_contains "POST an image to /v1/predict"
assert_output_contains "Exit codes: 0 stopped by SIGINT/SIGTERM"
expect_exit 2 "${serve[@]}" --no-such-option
assert_output_contains "fer-serve: error:"
expect_exit 2 env -u FER_SERVE_TOKEN "${serve[@]}" --listen 0.0.0.0 -k s
assert_output_contains "requires a shared token"
expect_exit 2 env FER_SERVE_TOKEN=short "${serve[@]}" --listen 0.0.0.0 -k s
assert_output_contains "at least 16 are needed"
expect_exit 2 "${serve[@]}" -k no-such-run
assert_output_contains "no-such-run"
# --precision bf16 on a CPU without AVX512-BF16 (ONEDNN_MAX_CPU_ISA=AVX2 stands in for one).
expect_exit 2 env ONEDNN_MAX_CPU_ISA=AVX2 "${serve[@]}" -k s --precision bf16
assert_output_contains "--precision bf16: this CPU has no native bf16 convolutions"

# One network thread in both, so that the sums are done in the same order.
"$FER_BIN/fer-predict" --checkpoints-dir runs -k s --threads 1 --json --top-k 7 photo.png > predict.jsonl 2>/dev/null

# --- 2-4: one server ------------------------------------------------------------------
start_serve main -k s --max-wait-ms 100 --max-body-mb 1 --threads 1 --io-threads 2
python3 - "$serve_url" <<'PY' || fail "the REST contract"
import json, sys, threading, urllib.request, urllib.error, uuid
url = sys.argv[1]

def call(path, data=None, ctype=None, method=None, headers=None):
    req = urllib.request.Request(url + path.lstrip("/"), data=data, method=method)
    if ctype: req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items(): req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()

def jcall(*a, **k):
    status, headers, body = call(*a, **k)
    return status, json.loads(body)

photo = open("photo.png", "rb").read()
status, answer = jcall("/v1/predict?top_k=7", photo, "image/png")
assert status == 200, (status, answer)
assert set(answer) == {"model", "width", "height", "detect", "faces"}, answer.keys()
assert answer["model"]["run"] == "s" and answer["model"]["file"].startswith("epoch-"), answer["model"]
assert len(answer["model"]["sha256"]) == 64
assert (answer["width"], answer["height"], answer["detect"]) == (640, 480, True)
expected = [json.loads(l) for l in open("predict.jsonl")]
assert len(answer["faces"]) == len(expected) == 2, (len(answer["faces"]), len(expected))
for face, ref in zip(answer["faces"], expected):
    assert set(face) == {"face", "box", "detected", "emotion", "probability", "top", "probabilities"}
    assert face["box"] == ref["box"] and face["emotion"] == ref["emotion"], (face, ref)
    assert len(face["probabilities"]) == 7 and abs(sum(face["probabilities"].values()) - 1) < 1e-6
    for k, v in face["probabilities"].items():
        assert abs(v - ref["probabilities"][k]) < 1e-9, (k, v, ref["probabilities"][k])
print("predict: 2 faces, the same boxes and probabilities as fer-predict --json")

boundary = uuid.uuid4().hex
body = (b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
        b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n"
        b"Content-Type: image/png\r\n\r\n" + photo + b"\r\n--" + boundary.encode() + b"--\r\n")
status, multi = jcall("/v1/predict?top_k=7", body, "multipart/form-data; boundary=" + boundary)
assert status == 200 and multi["faces"] == answer["faces"], (status, multi)

status, face48 = jcall("/v1/predict?detect=0", open("face48.png", "rb").read(), "image/png")
assert status == 200 and face48["detect"] is False and len(face48["faces"]) == 1, face48
assert face48["faces"][0]["detected"] is False and face48["faces"][0]["box"]["width"] == 48
status, blank = jcall("/v1/predict", open("blank.png", "rb").read(), "image/png")
assert status == 200 and blank["faces"] == [], blank

def expect_error(status_wanted, path, data=None, ctype="image/png", method=None):
    status, headers, raw = call(path, data, ctype, method)
    doc = json.loads(raw)
    assert status == status_wanted and doc["status"] == status_wanted and doc["error"], (path, status, doc)
    assert headers["Content-Type"] == "application/json", headers["Content-Type"]
    return doc["error"]
print("400:", expect_error(400, "/v1/predict", b"this is not an image"))
print("400:", expect_error(400, "/v1/predict", open("truncated.png", "rb").read()))
print("413:", expect_error(413, "/v1/predict", b"\0" * (1024 * 1024 + 1)))
print("413:", expect_error(413, "/v1/predict", open("huge.png", "rb").read()))
print("415:", expect_error(415, "/v1/predict", b"x", "text/plain"))
print("404:", expect_error(404, "/v2/predict", None, None))
print("405:", expect_error(405, "/v1/predict", None, None))

# Micro-batching: 24 requests at once.
def metric(name):
    _, _, text = call("/metrics")
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(name + " not in /metrics")
passes_before = metric("fer_serve_batch_requests_count")
requests_before = metric("fer_serve_batch_requests_sum")
results = []
def one():
    results.append(jcall("/v1/predict", photo, "image/png")[0])
threads = [threading.Thread(target=one) for _ in range(24)]
for t in threads: t.start()
for t in threads: t.join()
assert results == [200] * 24, results
passes = metric("fer_serve_batch_requests_count") - passes_before
shared = metric("fer_serve_batch_requests_sum") - requests_before
print("micro-batching: 24 concurrent requests in %d forward passes" % passes)
assert shared == 24 and passes < 24, (passes, shared)
status, health = jcall("/healthz")
assert status == 200 and health["status"] == "ok" and health["model"]["run"] == "s"
_, _, text = call("/metrics")
for name in ("fer_serve_requests_total{route=\"/v1/predict\",code=\"200\"}", "fer_serve_request_seconds_bucket",
             "fer_serve_batch_faces_bucket", "fer_serve_model_info{run=\"s\"", "fer_serve_in_flight"):
    assert name in text.decode(), name
PY
kill -TERM "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
[ "$rc" = 0 ] || { cat main.err >&2; fail "fer-serve exited $rc on SIGTERM"; }
grep -q "stopped by SIGTERM" main.err || { cat main.err >&2; fail "no 'stopped by SIGTERM' line"; }

# --- 5. a token -------------------------------------------------------------------------
token=0123456789abcdef-serve-token
printf '%s\n' "$token" > token.txt
chmod 600 token.txt
start_serve token -k s --token-file token.txt
python3 - "$serve_url" "$token" <<'PY' || fail "the token"
import sys, urllib.request, urllib.error
url, token = sys.argv[1], sys.argv[2]
def status(path, data=None, headers=None):
    req = urllib.request.Request(url + path, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r: return r.status
    except urllib.error.HTTPError as e: return e.code
photo = open("photo.png", "rb").read()
assert status("v1/predict", photo) == 401
assert status("v1/predict", photo, {"Authorization": "Bearer wrong-token-wrong-token"}) == 401
assert status("metrics") == 401 and status("v1/model") == 401
assert status("healthz") == 200 and status("") == 200 and status("app.js") == 200  # the page holds no data
assert status("v1/predict", photo, {"Authorization": "Bearer " + token}) == 200
assert status("v1/model?token=" + token) == 200 and status("metrics?token=" + token) == 200
print("token: 401 without, 200 with (Bearer, ?token=); /healthz and the page open")
PY
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "fer-serve (token) exited non-zero on SIGTERM"

# --- 6. hot reload under load --------------------------------------------------------------
start_serve reload -k s --reload-seconds 0.2 --threads 1
first=$(readlink runs/s/best.pt)
other=$(cd runs/s && ls epoch-*.pt | grep -vx "$first" | head -n 1)  # kept by retention
[ -n "$other" ] || fail "runs/s holds no second checkpoint"
python3 - "$serve_url" "$first" "$other" <<'PY' || { cat reload.err >&2; fail "hot reload"; }
import json, os, sys, threading, time, urllib.request, urllib.error
url, first, other = sys.argv[1], sys.argv[2], sys.argv[3]
photo = open("photo.png", "rb").read()
stop, seen, failures, count = False, [], [], [0]
lock = threading.Lock()
def client():
    while not stop:
        req = urllib.request.Request(url + "v1/predict", data=photo, headers={"Content-Type": "image/png"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                doc = json.loads(r.read())
                with lock:
                    count[0] += 1
                    if not seen or seen[-1] != doc["model"]["file"]: seen.append(doc["model"]["file"])
        except Exception as e:
            with lock: failures.append(repr(e))
def point(target):  # as the run store moves a pointer: a new symlink renamed over the old
    os.symlink(target, "runs/s/best.pt.tmp")
    os.rename("runs/s/best.pt.tmp", "runs/s/best.pt")
def metric(name):
    with urllib.request.urlopen(url + "metrics", timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "): return float(line.split()[-1])
threads = [threading.Thread(target=client) for _ in range(4)]
for t in threads: t.start()
time.sleep(1.5)
point(other)
deadline = time.time() + 20
while time.time() < deadline and (not seen or seen[-1] != other): time.sleep(0.1)
time.sleep(1.0)
with open("runs/s/damaged.pt", "wb") as f: f.write(b"PK\x03\x04 not a checkpoint")
point("damaged.pt")
deadline = time.time() + 20
while time.time() < deadline and not metric("fer_serve_model_reload_failures_total"): time.sleep(0.1)
time.sleep(1.0)
stop = True
for t in threads: t.join()
print("hot reload: %d requests, models answered: %s, %d failed" % (count[0], " -> ".join(seen), len(failures)))
assert not failures, failures[:3]
assert seen == [first, other], seen
assert metric("fer_serve_model_reloads_total") == 1
assert metric("fer_serve_model_reload_failures_total") == 1
assert count[0] >= 20, count[0]
PY
grep -q "now serving .*$other" reload.err || { cat reload.err >&2; fail "no reload line"; }
grep -q "warning: keeping .*damaged.pt" reload.err || { cat reload.err >&2; fail "no warning for the damaged checkpoint"; }
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "fer-serve exited non-zero on SIGTERM"
echo "PASS: fer-serve REST contract"
