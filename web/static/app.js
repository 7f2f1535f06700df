// The demo page: everything goes through the public API.
"use strict";

const $ = (id) => document.getElementById(id);

async function problem(res) {
  // Errors are application/problem+json; show their detail.
  try {
    const p = await res.json();
    return p.detail || p.title || res.statusText;
  } catch {
    return res.status + " " + res.statusText;
  }
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function loadModels() {
  const res = await fetch("/v1/models");
  if (!res.ok) {
    setStatus("listing models failed: " + (await problem(res)), true);
    return;
  }
  const list = await res.json();
  const empty = list.models.length === 0;
  $("hint").hidden = !empty;
  $("app").hidden = empty;
  const sel = $("model");
  sel.textContent = "";
  $("teach-base").textContent = "";
  for (const m of list.models) {
    const v = m.versions[m.versions.length - 1] || {};
    const opt = document.createElement("option");
    opt.value = m.name;
    const kind = v.multi_label ? `${v.label_count} labels, multi-label` : `${v.label_count} classes`;
    opt.textContent = `${m.name}:${m.latest} (${v.architecture || "?"}, ${v.input_width}x${v.input_height}, ${kind})`;
    if (m.name === list.default) opt.selected = true;
    sel.appendChild(opt);
    $("teach-base").appendChild(opt.cloneNode(true));
  }
}

// Teach a new model: upload the archive, then poll the job until it ends.
function teachStatus(text, isError) {
  $("teach-status").textContent = text;
  $("teach-status").className = isError ? "error" : "";
}

function pct(v) {
  return v < 0 ? "–" : (100 * v).toFixed(1) + "%";
}

async function teach(e) {
  e.preventDefault();
  const body = new FormData();
  body.append("name", $("teach-name").value);
  body.append("epochs", $("teach-epochs").value);
  body.append("dataset", $("teach-data").files[0]);
  const headers = {};
  const key = $("teach-key");
  if (key && key.value) headers.Authorization = "Bearer " + key.value;
  $("teach-go").disabled = true;
  teachStatus("uploading…", false);
  try {
    const base = $("teach-base").value;
    const res = await fetch(`/v1/models/${encodeURIComponent(base)}/finetune`, { method: "POST", body, headers });
    if (!res.ok) {
      teachStatus(await problem(res), true);
      return;
    }
    await follow(res.headers.get("Location"));
  } finally {
    $("teach-go").disabled = false;
  }
}

async function follow(url) {
  const bar = $("teach-progress");
  bar.hidden = false;
  for (;;) {
    const res = await fetch(url);
    if (!res.ok) {
      teachStatus(await problem(res), true);
      return;
    }
    const job = await res.json();
    bar.value = job.total ? job.done / job.total : 0;
    if (job.state === "succeeded") {
      bar.hidden = true;
      teachStatus(`${job.model} is ready (train ${pct(job.train_accuracy)}, val ${pct(job.val_accuracy)}): drop an image above to try it.`, false);
      await loadModels();
      $("model").value = job.model.split(":")[0];
      classify($("file").files[0]);
      return;
    }
    if (job.state === "failed" || job.state === "canceled") {
      bar.hidden = true;
      teachStatus(`${job.state}: ${job.error || ""}`, true);
      return;
    }
    if (job.stage === "train") {
      teachStatus(`epoch ${job.epoch}/${job.total}: loss ${job.train_loss.toFixed(4)}, train ${pct(job.train_accuracy)}, val ${pct(job.val_accuracy)}`, false);
    } else {
      teachStatus(`${job.state}: ${job.done || 0}/${job.total || job.images} images through the backbone`, false);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

$("teach-form").addEventListener("submit", (e) => teach(e).catch((err) => teachStatus(String(err), true)));

function showResults(result) {
  const box = $("results");
  box.textContent = "";
  for (const p of result.predictions) {
    const row = document.createElement("div");
    // Multi-label answers mark each label positive or not on its own.
    row.className = p.positive === undefined ? "row" : p.positive ? "row positive" : "row negative";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = p.label;
    label.title = `class ${p.class_id}`;
    const track = document.createElement("div");
    track.className = "track";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = (100 * p.score).toFixed(1) + "%";
    bar.dataset.score = String(p.score);
    track.appendChild(bar);
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = p.score.toFixed(4) + (p.positive === undefined ? "" : p.positive ? " ✓" : "");
    if (p.positive !== undefined) score.title = p.positive ? "positive" : "negative";
    row.append(label, track, score);
    box.appendChild(row);
  }
}

async function classify(file) {
  const model = $("model").value;
  if (!model || !file) return;
  $("preview").src = URL.createObjectURL(file);
  $("preview").hidden = false;
  setStatus("classifying…", false);
  const body = new FormData();
  body.append("image", file);
  const t0 = performance.now();
  // The server's default top_k: 5 classes, or every label of a
  // multi-label model.
  const res = await fetch(`/v1/models/${encodeURIComponent(model)}/classify`, { method: "POST", body });
  const ms = performance.now() - t0;
  $("latency").textContent = ms.toFixed(1) + " ms";
  if (!res.ok) {
    $("results").textContent = "";
    setStatus(await problem(res), true);
    return;
  }
  const out = await res.json();
  const kind = out.multi_label ? ` — multi-label, positive at score ≥ ${out.threshold}` : "";
  setStatus(`${out.model}:${out.version}${kind}`, false);
  showResults(out.results[0]);
}

$("file").addEventListener("change", (e) => classify(e.target.files[0]));
$("model").addEventListener("change", () => classify($("file").files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const f = e.dataTransfer.files[0];
  if (f) classify(f);
});
loadModels().catch((err) => setStatus(String(err), true));
