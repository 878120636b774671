"use strict";
const REFRESH_MS = 3000;
let selectedRun = null;  // the run name the user picked (kept across refreshes)
let lastStatus = null;
let lastSuccess = null;

const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
const isNum = (v) => typeof v === "number" && isFinite(v);
const dash = "–";
function pct(v) { return isNum(v) ? (v * 100).toFixed(1) + "%" : dash; }
function fixed(v, d) { return isNum(v) ? v.toFixed(d) : dash; }
function bytes(n) {
  if (!isNum(n)) return dash;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
}
function duration(s) {
  if (!isNum(s)) return dash;
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d > 0) return d + "d " + h + "h";
  if (h > 0) return h + "h " + m + "m";
  if (m > 0) return m + "m " + (s % 60) + "s";
  return (s % 60) + "s";
}
function stat(label, value) { return [label + " ", el("b", {}, value)]; }
function setStat(node, parts) { clear(node); for (const p of parts.flat()) node.append(p); }

// --- which run ----------------------------------------------------------------
function pickRun(runs) {
  if (selectedRun !== null) {
    const r = runs.find((x) => x.run === selectedRun);
    if (r) return r;
  }
  return runs.find((x) => x.state === "running") || runs[0];
}
function renderPicker(runs, current) {
  const picker = $("run-picker"), select = $("run-select");
  picker.hidden = runs.length < 2;
  const names = runs.map((r) => String(r.run));
  const existing = Array.from(select.options).map((o) => o.value);
  if (names.join("\n") !== existing.join("\n")) {
    clear(select);
    for (const r of runs) select.append(el("option", { value: String(r.run) }, String(r.run) + (r.state ? " (" + r.state + ")" : "")));
  }
  select.value = String(current.run);
}
$("run-select").addEventListener("change", (e) => { selectedRun = e.target.value; if (lastStatus) render(lastStatus); });

// --- metrics lines ------------------------------------------------------------
// One value per epoch (the newest line wins): val figures come from lines with
// split "val" or with val_* keys, train figures from split "train" or train_* keys.
function series(metrics, prefix, field) {
  const byEpoch = new Map();
  for (const m of metrics) {
    if (!m || !isNum(m.epoch)) continue;
    let v = m[prefix + "_" + field];
    if (!isNum(v) && m.split === prefix) v = m[field];
    if (isNum(v)) byEpoch.set(m.epoch, v);
  }
  return Array.from(byEpoch.entries()).sort((a, b) => a[0] - b[0]);
}
function lastValue(metrics, key) {
  for (let i = metrics.length - 1; i >= 0; i--) {
    const m = metrics[i];
    if (m && isNum(m[key])) return { value: m[key], line: m };
    if (m && m.split === "val" && key.startsWith("val_") && isNum(m[key.slice(4)])) return { value: m[key.slice(4)], line: m };
  }
  return null;
}
function runEpoch(run, metrics) {
  if (isNum(run.epoch)) return run.epoch;
  let e = null;
  for (const m of metrics) if (m && isNum(m.epoch)) e = e === null ? m.epoch : Math.max(e, m.epoch);
  return e;
}

// --- charts -------------------------------------------------------------------
function niceStep(range, target) {
  const raw = range / Math.max(1, target);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}
function drawChart(canvas, legend, lines, opts) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 500, h = canvas.clientHeight || 250;
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
  clear(legend);
  for (const l of lines) legend.append(el("span", {}, el("i", { style: "background:" + l.color }), l.name + (l.points.length ? "" : " (none yet)")));
  const pts = lines.flatMap((l) => l.points);
  if (pts.length === 0) {
    g.fillStyle = "#5f6b7a"; g.textAlign = "center"; g.textBaseline = "middle";
    g.fillText("no figures yet", w / 2, h / 2);
    return;
  }
  let xmin = Math.min(...pts.map((p) => p[0])), xmax = Math.max(...pts.map((p) => p[0]));
  let ymin = Math.min(...pts.map((p) => p[1])), ymax = Math.max(...pts.map((p) => p[1]));
  if (opts.percent) { ymin = Math.max(0, ymin - 0.05); ymax = Math.min(1, ymax + 0.05); }
  else { const pad = (ymax - ymin) * 0.1 || Math.abs(ymax) * 0.1 || 0.1; ymin = Math.max(0, ymin - pad); ymax += pad; }
  if (ymax <= ymin) ymax = ymin + 0.1;
  if (xmax === xmin) { xmin -= 1; xmax += 1; }
  const ystep = niceStep(ymax - ymin, 5);
  const decimals = Math.max(0, -Math.floor(Math.log10(ystep) + 1e-9));
  ymin = Math.floor(ymin / ystep) * ystep; ymax = Math.ceil(ymax / ystep) * ystep;
  const left = 48, right = 14, top = 10, bottom = 40;
  const X = (x) => left + (x - xmin) / (xmax - xmin) * (w - left - right);
  const Y = (y) => top + (1 - (y - ymin) / (ymax - ymin)) * (h - top - bottom);
  // grid and y ticks
  g.strokeStyle = "#e6eaf0"; g.lineWidth = 1; g.fillStyle = "#5f6b7a";
  g.textAlign = "right"; g.textBaseline = "middle";
  for (let y = ymin; y <= ymax + ystep / 2; y += ystep) {
    const py = Math.round(Y(y)) + 0.5;
    g.beginPath(); g.moveTo(left, py); g.lineTo(w - right, py); g.stroke();
    g.fillText(opts.percent ? Math.round(y * 100) + "%" : y.toFixed(decimals), left - 6, py);
  }
  // x ticks: whole epochs
  const xstep = Math.max(1, Math.ceil(niceStep(xmax - xmin, 8)));
  g.textAlign = "center"; g.textBaseline = "top";
  for (let x = Math.ceil(xmin); x <= xmax; x += xstep) g.fillText(String(x), X(x), h - bottom + 6);
  g.fillText("epoch", left + (w - left - right) / 2, h - 16);
  g.strokeStyle = "#9aa5b4";
  g.beginPath(); g.moveTo(left + 0.5, top); g.lineTo(left + 0.5, h - bottom + 0.5); g.lineTo(w - right, h - bottom + 0.5); g.stroke();
  for (const l of lines) {
    if (!l.points.length) continue;
    g.strokeStyle = l.color; g.fillStyle = l.color; g.lineWidth = 2; g.lineJoin = "round";
    g.beginPath();
    l.points.forEach((p, i) => (i ? g.lineTo(X(p[0]), Y(p[1])) : g.moveTo(X(p[0]), Y(p[1]))));
    g.stroke();
    for (const p of l.points) { g.beginPath(); g.arc(X(p[0]), Y(p[1]), 3, 0, 2 * Math.PI); g.fill(); }
  }
}

// --- confusion matrix ---------------------------------------------------------
function heat(share) {
  // white -> deep blue; strong cells get white text
  const t = Math.max(0, Math.min(1, share));
  const from = [247, 250, 255], to = [29, 78, 216];
  const c = from.map((f, i) => Math.round(f + (to[i] - f) * Math.pow(t, 0.8)));
  return { bg: "rgb(" + c.join(",") + ")", fg: t > 0.45 ? "#ffffff" : "#1c2430" };
}
function renderConfusion(table, note, run, metrics) {
  clear(table);
  clear(note);
  let found = null;
  for (let i = metrics.length - 1; i >= 0 && !found; i--) {
    const m = metrics[i];
    if (m && Array.isArray(m.val_confusion_matrix) && m.val_confusion_matrix.length) found = m;
  }
  let cells = found ? found.val_confusion_matrix : [];
  if (Array.isArray(cells[0])) cells = cells.flat();
  const n = Math.round(Math.sqrt(cells.length));
  if (!found || n * n !== cells.length) {
    note.className = "empty";
    note.textContent = found ? "the confusion matrix is not square (" + cells.length + " cells)" : "no evaluation yet";
    return;
  }
  note.className = "cm-note";
  const names = Array.isArray(run.class_names) && run.class_names.length === n ? run.class_names.map(String) : Array.from({ length: n }, (_, i) => String(i));
  const headRow = el("tr", {}, el("th", { class: "corner" }, "truth \\ predicted"));
  for (const c of names) headRow.append(el("th", { scope: "col" }, c));
  table.append(el("thead", {}, headRow));
  const body = el("tbody");
  for (let r = 0; r < n; r++) {
    const row = cells.slice(r * n, r * n + n).map((v) => (isNum(v) ? v : 0));
    const total = row.reduce((a, b) => a + b, 0);
    const tr = el("tr", {}, el("th", { scope: "row" }, names[r]));
    row.forEach((v, c) => {
      const share = total > 0 ? v / total : 0;
      const col = heat(share);
      tr.append(el("td", {
        "data-count": String(v), "data-row": String(r), "data-col": String(c),
        title: "truth " + names[r] + ", predicted " + names[c] + ": " + v + " (" + (share * 100).toFixed(1) + "% of the row)",
        style: "background:" + col.bg + ";color:" + col.fg + (r === c ? ";font-weight:700" : ""),
      }, String(v)));
    });
    body.append(tr);
  }
  table.append(body);
  const total = cells.reduce((a, b) => a + (isNum(b) ? b : 0), 0);
  note.textContent = "epoch " + (isNum(found.epoch) ? found.epoch : dash) + " · " + total + " images · rows: truth, columns: predicted · colour: share of the row";
}

// --- tables -------------------------------------------------------------------
function table(headers, rows) {
  const t = el("table");
  const hr = el("tr");
  for (const h of headers) hr.append(el("th", { class: h.num ? "num" : null }, h.label));
  t.append(el("thead", {}, hr));
  const b = el("tbody");
  for (const r of rows) {
    const tr = el("tr");
    r.forEach((cell, i) => tr.append(el("td", { class: headers[i].num ? "num" : null }, cell)));
    b.append(tr);
  }
  t.append(b);
  return t;
}
function renderRanks(box, run) {
  clear(box);
  const ranks = Array.isArray(run.ranks) ? run.ranks.slice().sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0)) : [];
  if (!ranks.length) { box.append(el("div", { class: "empty" }, "no rank has connected yet")); return; }
  box.append(table(
    [{ label: "rank" }, { label: "host" }, { label: "pid", num: true }, { label: "connected" }, { label: "heartbeat age", num: true }, { label: "epoch", num: true }, { label: "step", num: true }],
    ranks.map((k) => {
      const age = k.heartbeat_age_seconds;
      return [
        String(k.rank ?? dash), String(k.host ?? dash), String(k.pid ?? dash),
        el("span", {}, el("span", { class: "dot " + (k.connected ? "on" : "off") }), k.connected ? "yes" : "no"),
        el("span", { class: isNum(age) && age > 10 ? "stale" : null }, isNum(age) ? age.toFixed(1) + " s" : dash),
        String(k.epoch ?? dash), String(k.step ?? dash),
      ];
    })));
}
function renderCheckpoints(box, run) {
  clear(box);
  const list = Array.isArray(run.checkpoints) ? run.checkpoints.slice().reverse() : [];
  if (!list.length) { box.append(el("div", { class: "empty" }, "none stored yet")); return; }
  box.append(table(
    [{ label: "file" }, { label: "epoch", num: true }, { label: "size", num: true }, { label: "val accuracy", num: true }],
    list.map((c) => {
      const name = el("span", {}, String(c.file ?? dash));
      if (c.file !== undefined && c.file === run.latest) name.append(el("span", { class: "tag tag-latest" }, "latest"));
      if (c.file !== undefined && c.file === run.best) name.append(el("span", { class: "tag tag-best" }, "★ best"));
      const acc = c.metrics && isNum(c.metrics.val_accuracy) ? c.metrics.val_accuracy : c.val_accuracy;
      return [name, String(c.epoch ?? dash), el("span", { title: isNum(c.bytes) ? c.bytes + " bytes" : null }, bytes(c.bytes)), pct(acc)];
    })));
}
function rankList(ranks, cls) {
  const s = el("span");
  for (const r of Array.isArray(ranks) ? ranks : []) s.append(el("span", { class: cls }, String(r)));
  if (!s.firstChild) s.append(dash);
  return s;
}
function renderPending(box, run) {
  clear(box);
  const list = Array.isArray(run.pending_evals) ? run.pending_evals : [];
  if (!list.length) { box.append(el("div", { class: "empty" }, "none: every evaluation is complete")); return; }
  box.append(table(
    [{ label: "split" }, { label: "epoch", num: true }, { label: "reported" }, { label: "missing" }, { label: "" }],
    list.map((p) => [String(p.split ?? dash), String(p.epoch ?? dash), rankList(p.reported_ranks, "reported"),
                     rankList(p.missing_ranks, "missing"), p.overdue ? el("span", { class: "overdue" }, "overdue") : ""])));
}

// --- page ---------------------------------------------------------------------
function render(status) {
  const server = status.server || {};
  $("server-version").textContent = server.version ? "version " + server.version : "";
  setStat($("server-uptime"), isNum(server.uptime_seconds) ? stat("up", duration(server.uptime_seconds)) : []);
  const traffic = [];
  if (server.listen) traffic.push(stat("listening on", String(server.listen)));
  if (isNum(server.connections)) traffic.push(stat(" · connections", String(server.connections)));
  if (isNum(server.bytes_ingested)) traffic.push(stat(" · received", bytes(server.bytes_ingested)));
  setStat($("server-traffic"), traffic);

  const runs = Array.isArray(status.runs) ? status.runs.filter((r) => r && r.run !== undefined) : [];
  if (!runs.length) {
    $("summary").textContent = "no runs yet";
    for (const id of ["run-state", "run-facts"]) clear($(id));
    $("run-picker").hidden = true;
    $("abort").hidden = true;
    for (const id of ["ranks", "confusion", "confusion-note", "checkpoints", "pending"]) clear($(id));
    drawChart($("loss-chart"), $("loss-legend"), [], {});
    drawChart($("acc-chart"), $("acc-legend"), [], { percent: true });
    return;
  }
  const run = pickRun(runs);
  renderPicker(runs, run);
  const metrics = Array.isArray(run.metrics) ? run.metrics : [];
  const epoch = runEpoch(run, metrics);
  const acc = lastValue(metrics, "val_accuracy");
  $("summary").textContent = "run " + run.run + ": epoch " + (epoch === null ? dash : epoch) +
      ", val accuracy " + (acc ? (acc.value * 100).toFixed(1) + "%" : "n/a");
  const state = String(run.state || "unknown");
  const pill = clear($("run-state"));
  pill.append(el("span", { class: "pill state-" + state }, state));
  const facts = [];
  if (isNum(run.world_size)) facts.push(stat("world size", String(run.world_size)));
  const loss = lastValue(metrics, "val_loss");
  if (loss) facts.push(stat(" · val loss", loss.value.toFixed(4)));
  const f1 = lastValue(metrics, "val_macro_f1");
  if (f1) facts.push(stat(" · macro F1", f1.value.toFixed(3)));
  if (run.best) facts.push(stat(" · best", String(run.best)));
  setStat($("run-facts"), facts);
  const abort = $("abort");
  abort.hidden = state !== "aborted";
  abort.textContent = state === "aborted" ? "Aborted: " + (run.abort_reason || "no reason given") : "";

  renderRanks($("ranks"), run);
  drawChart($("loss-chart"), $("loss-legend"), [
    { name: "train loss", color: "#2563eb", points: series(metrics, "train", "loss") },
    { name: "val loss", color: "#d97706", points: series(metrics, "val", "loss") },
  ], {});
  drawChart($("acc-chart"), $("acc-legend"), [
    { name: "train accuracy", color: "#2563eb", points: series(metrics, "train", "accuracy") },
    { name: "val accuracy", color: "#d97706", points: series(metrics, "val", "accuracy") },
  ], { percent: true });
  renderConfusion($("confusion"), $("confusion-note"), run, metrics);
  renderCheckpoints($("checkpoints"), run);
  renderPending($("pending"), run);
}

function showError(message) {
  const banner = $("error");
  banner.hidden = false;
  banner.textContent = "Cannot load /status: " + message + ". Retrying every " + REFRESH_MS / 1000 + " s" +
      (lastSuccess ? "; figures below are from " + lastSuccess.toLocaleTimeString() + "." : ".");
}

async function refresh() {
  try {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REFRESH_MS * 2);
    // The page's own ?token= (a status page off loopback) goes along.
    const res = await fetch("status" + location.search, { cache: "no-store", signal: controller.signal });
    clearTimeout(timer);
    if (!res.ok) throw new Error("HTTP " + res.status + " " + (await res.text()).trim());
    const status = await res.json();
    lastStatus = status;
    lastSuccess = new Date();
    $("error").hidden = true;
    render(status);
    $("updated").textContent = "updated " + lastSuccess.toLocaleTimeString() + " · refreshes every " + REFRESH_MS / 1000 + " s";
  } catch (e) {
    showError(e && e.name === "AbortError" ? "no answer" : String(e && e.message ? e.message : e));
  } finally {
    setTimeout(refresh, REFRESH_MS);  // one request at a time, also after a failure
  }
}
window.addEventListener("resize", () => { if (lastStatus) render(lastStatus); });
refresh();
