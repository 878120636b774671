#!/usr/bin/env bash
# fer-serve's page in a real browser: Debian's headless Chromium, driven through
# ChromeDriver's WebDriver HTTP API (with Python's standard library only).
#   1. upload: the page loads (opened as /?token=…: fer-serve runs with a token, as off
#      loopback, and the page sends it with its requests), a photo with two drawn faces is chosen in its file input
#      (a real upload through the page's own JavaScript); the page lists 2 faces with
#      the emotions and top probabilities that POST /v1/predict gives for the same file,
#      draws 7 bars per face, and shows the model's epoch; screenshot upload.png;
#   2. webcam: Chromium's fake capture device plays a Y4M video with a face in every
#      frame (made by the test); "Start the webcam" -> live frames are classified and
#      labelled (at least 3 frames, a face in the latest); screenshot webcam.png.
# Screenshots are kept in ${FER_SCREENSHOT_DIR:-<build>/screenshots}/serve-*.png.
# Skips (77) without /usr/bin/chromium or /usr/bin/chromedriver (launch/test.sh installs both).
source "$FER_ROOT/tests/serve/lib_serve.sh"
chromium=/usr/bin/chromium
driver=/usr/bin/chromedriver
[ -x "$chromium" ] || { echo "SKIP: $chromium not installed (apt-get install chromium)"; exit 77; }
[ -x "$driver" ] || { echo "SKIP: $driver not installed (apt-get install chromium-driver)"; exit 77; }
fixtures="$FER_BIN/fer-test-predict-fixtures"
[ -x "$fixtures" ] || fail "$fixtures is not built"
screenshot_dir="${FER_SCREENSHOT_DIR:-$(dirname "$FER_BIN")/screenshots}"
mkdir -p "$screenshot_dir"

train_tiny_model b 2
"$fixtures" photo "$WORK/photo.png" --width 640 --height 480 --faces 2 --side 140
"$fixtures" y4m "$WORK/webcam.y4m" --width 640 --height 480 --frames 8
# With a token, as off loopback: the page is opened as /?token=… and sends it along.
token=0123456789abcdef-browser-token
printf '%s\n' "$token" >token.txt
chmod 600 token.txt
start_serve page -k b --threads 1 --token-file token.txt

driver_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$driver" --port="$driver_port" >driver.log 2>&1 &
serve_pids+=("$!")

python3 - "$serve_url" "$driver_port" "$WORK" "$screenshot_dir" "$chromium" "$token" <<'PY' || { tail -20 driver.log >&2; fail "the page in Chromium"; }
import base64, json, sys, time, urllib.request, urllib.error
url, driver_port, work, shots, chromium, token = sys.argv[1:7]
wd = "http://127.0.0.1:%s" % driver_port

def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(wd + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())["value"]
    except urllib.error.HTTPError as e:
        raise SystemExit("WebDriver %s %s: %s" % (method, path, e.read()[:400]))

for _ in range(100):  # ChromeDriver starts in a moment
    try:
        urllib.request.urlopen(wd + "/status", timeout=2); break
    except Exception: time.sleep(0.1)

args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--window-size=1280,1100",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        "--use-file-for-fake-video-capture=%s/webcam.y4m" % work,
        "--user-data-dir=%s/profile" % work]
session = call("POST", "/session", {"capabilities": {"alwaysMatch": {
    "browserName": "chrome", "goog:chromeOptions": {"binary": chromium, "args": args}}}})["sessionId"]
s = "/session/" + session
def find(css):
    element = call("POST", s + "/element", {"using": "css selector", "value": css})
    return list(element.values())[0]
def script(code, *arguments):
    return call("POST", s + "/execute/sync", {"script": code, "args": list(arguments)})
def wait_for(code, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = script(code)
        if value: return value
        time.sleep(0.2)
    raise SystemExit("timed out waiting for " + what + "; page says: " +
                     str(script("return document.getElementById('summary').textContent + ' | ' + document.getElementById('error').textContent")))
def screenshot(name):
    png = base64.b64decode(call("GET", s + "/screenshot"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000, len(png)
    open("%s/%s" % (shots, name), "wb").write(png)
    print("screenshot %s/%s (%d bytes)" % (shots, name, len(png)))

try:
    # The REST answer for the same file, to compare the page with.
    photo = open(work + "/photo.png", "rb").read()
    req = urllib.request.Request(url + "v1/predict", data=photo,
                                 headers={"Content-Type": "image/png", "Authorization": "Bearer " + token})
    rest = json.loads(urllib.request.urlopen(req, timeout=60).read())
    assert len(rest["faces"]) == 2, rest

    # 1. upload
    call("POST", s + "/url", {"url": url + "?token=" + token})
    epoch = wait_for("return document.getElementById('model').dataset.epoch", "the model line")
    assert int(epoch) == rest["model"]["epoch"], (epoch, rest["model"])
    call("POST", s + "/element/%s/value" % find("#file"), {"text": work + "/photo.png"})
    wait_for("return document.querySelectorAll('#faces li.face').length == 2", "2 faces listed")
    faces = script("""return Array.from(document.querySelectorAll('#faces li.face')).map(li => ({
        emotion: li.dataset.emotion, probability: parseFloat(li.dataset.probability),
        bars: li.querySelectorAll('.bar').length, title: li.querySelector('h3').textContent}))""")
    for shown, answer in zip(faces, rest["faces"]):
        assert shown["emotion"] == answer["emotion"], (shown, answer["emotion"])
        assert abs(shown["probability"] - answer["probability"]) < 1e-4, (shown, answer["probability"])
        assert shown["bars"] == 7, shown
    summary = script("return document.getElementById('summary').textContent")
    assert summary == "2 faces (640x480)", summary
    drawn = script("""const c = document.getElementById('overlay'); const d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;""")
    assert drawn > 1000, "no boxes drawn over the picture: %d pixels" % drawn
    print("upload: 2 faces shown (%s), as POST /v1/predict answers; %d overlay pixels" %
          (", ".join(f["title"] for f in faces), drawn))
    screenshot("serve-upload.png")

    # 2. webcam (Chromium's fake device plays webcam.y4m)
    call("POST", s + "/element/%s/click" % find("#webcam"), {})
    wait_for("return parseInt(document.getElementById('live').dataset.frames) >= 3 && "
             "document.querySelectorAll('#faces li.face').length >= 1", "3 live frames with a face", 90)
    live = script("return [document.getElementById('live').textContent, "
                  "document.querySelector('#faces li.face h3').textContent, "
                  "document.getElementById('video').videoWidth, "
                  "document.getElementById('picture').offsetHeight, "
                  "document.getElementById('overlay').height == document.getElementById('video').clientHeight]")
    assert live[2] == 640 and live[3] == 0 and live[4], live  # the video shown, boxes over it
    print("webcam: %s; latest frame: %s" % (live[0], live[1]))
    screenshot("serve-webcam.png")
    call("POST", s + "/element/%s/click" % find("#stop"), {})
finally:
    call("DELETE", s)
PY
echo "PASS: fer-serve's page: upload and webcam in headless Chromium"
