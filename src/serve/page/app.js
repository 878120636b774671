// fer-serve's page: an image (dropped or chosen) or webcam frames go to POST
// /v1/predict; the answer's boxes are drawn over the picture and each face gets a bar
// chart of its 7 probabilities. A ?token=... in the page's address is sent along as a
// bearer token (fer-serve off loopback needs one).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const colours = ["#e5484d", "#8e4ec6", "#f76b15", "#30a46c", "#0090ff", "#ffb224", "#6f6e77"];
  let stream = null, frames = 0, lastAnswer = null;

  function showError(text) {
    const box = $("error");
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function loadModel() {
    try {
      const res = await fetch("v1/model", { headers });
      const model = await res.json();
      if (!res.ok) throw new Error(model.error || res.statusText);
      $("model").textContent = "model: " + (model.run ? model.run + "/" : "") + model.file +
        ", epoch " + model.epoch;
      $("model").dataset.epoch = model.epoch;
    } catch (e) {
      $("model").textContent = "model unavailable: " + e.message;
    }
  }

  async function predict(blob) {
    const res = await fetch("v1/predict", { method: "POST", headers, body: blob });
    const answer = await res.json().catch(() => ({ error: res.status + " " + res.statusText }));
    if (!res.ok) throw new Error(answer.error || res.statusText);
    return answer;
  }

  function percent(p) { return (100 * p).toFixed(1) + "%"; }

  function render(answer) {
    lastAnswer = answer;
    const list = $("faces");
    list.replaceChildren();
    const n = answer.faces.length;
    $("summary").textContent = n === 0 ? "No face found." :
      n + (n === 1 ? " face" : " faces") + " (" + answer.width + "x" + answer.height + ")";
    answer.faces.forEach((face, i) => {
      const item = document.createElement("li");
      item.className = "face";
      item.dataset.emotion = face.emotion;
      item.dataset.probability = face.probability.toFixed(4);
      const title = document.createElement("h3");
      title.textContent = "Face " + (i + 1) + ": " + face.emotion + " " + percent(face.probability);
      item.appendChild(title);
      for (const [emotion, p] of Object.entries(face.probabilities)) {
        const row = document.createElement("div");
        row.className = "bar" + (emotion === face.emotion ? " top" : "");
        row.dataset.emotion = emotion;
        const name = document.createElement("span");
        name.textContent = emotion;
        const track = document.createElement("span");
        track.className = "track";
        const fill = document.createElement("span");
        fill.className = "fill";
        fill.style.display = "block";
        fill.style.width = (100 * p).toFixed(1) + "%";
        track.appendChild(fill);
        const value = document.createElement("span");
        value.className = "value";
        value.textContent = percent(p);
        row.append(name, track, value);
        item.appendChild(row);
      }
      list.appendChild(item);
    });
    drawBoxes();
  }

  // Boxes and labels over the picture or the video, scaled to its displayed size.
  function drawBoxes() {
    const overlay = $("overlay");
    const media = stream ? $("video") : $("picture");
    const width = media.clientWidth, height = media.clientHeight;
    overlay.width = width;
    overlay.height = height;
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    if (!lastAnswer || !lastAnswer.width) return;
    const sx = width / lastAnswer.width, sy = height / lastAnswer.height;
    ctx.lineWidth = 3;
    ctx.font = "bold 15px system-ui, sans-serif";
    lastAnswer.faces.forEach((face) => {
      const colour = colours[Object.keys(face.probabilities).indexOf(face.emotion)] || "#1f6feb";
      const b = face.box;
      ctx.strokeStyle = colour;
      ctx.strokeRect(b.x * sx, b.y * sy, b.width * sx, b.height * sy);
      const label = face.emotion + " " + percent(face.probability);
      const w = ctx.measureText(label).width + 10;
      const y = Math.max(0, b.y * sy - 22);
      ctx.fillStyle = colour;
      ctx.fillRect(b.x * sx, y, w, 22);
      ctx.fillStyle = "#fff";
      ctx.fillText(label, b.x * sx + 5, y + 16);
    });
  }

  async function classifyFile(file) {
    if (!file) return;
    stopWebcam();
    showError("");
    const picture = $("picture");
    picture.src = URL.createObjectURL(file);
    picture.hidden = false;
    $("video").hidden = true;
    await picture.decode().catch(() => {});
    try {
      render(await predict(file));
    } catch (e) {
      lastAnswer = null;
      $("faces").replaceChildren();
      $("summary").textContent = "No result.";
      drawBoxes();
      showError(e.message);
    }
  }

  async function startWebcam() {
    showError("");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (e) {
      showError("webcam: " + e.message);
      return;
    }
    const video = $("video");
    video.srcObject = stream;
    video.hidden = false;
    $("picture").hidden = true;
    $("webcam").disabled = true;
    $("stop").disabled = false;
    frames = 0;
    await video.play().catch(() => {});
    liveLoop();
  }

  // One frame in flight at a time: the next is taken when the answer is back.
  async function liveLoop() {
    const video = $("video");
    const canvas = document.createElement("canvas");
    while (stream) {
      if (video.videoWidth === 0) { await new Promise((r) => setTimeout(r, 50)); continue; }
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.85));
      try {
        const answer = await predict(blob);
        if (!stream) break;
        render(answer);
        frames += 1;
        $("live").dataset.frames = frames;
        $("live").textContent = "live: " + frames + " frames";
      } catch (e) {
        showError(e.message);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  function stopWebcam() {
    if (!stream) return;
    stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("webcam").disabled = false;
    $("stop").disabled = true;
  }

  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    classifyFile(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (e) => classifyFile(e.target.files[0]));
  $("webcam").addEventListener("click", startWebcam);
  $("stop").addEventListener("click", stopWebcam);
  window.addEventListener("resize", drawBoxes);
  loadModel();
})();
