// robustune's page: forms post to the JSON API with the sign-in cookie; the jobs table polls /v1/jobs.
"use strict";

const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const HEADERS = {"X-Robustune-Page": "1"};  // cookie-authenticated writes must carry it (no cross-site posts)

function notice(text, isError) {
  const el = document.getElementById("notice");
  el.textContent = text;
  el.className = isError ? "notice error" : "notice";
  el.hidden = false;
}

async function api(method, path, body, headers) {
  const init = {method, headers: {...HEADERS, ...(headers || {})}, credentials: "same-origin"};
  if (body !== undefined) init.body = body;
  const r = await fetch(path, init);
  const type = r.headers.get("content-type") || "";
  const data = type.startsWith("application/json") ? await r.json() : await r.text();
  if (!r.ok) {
    const message = data && data.error ? data.error : `the server answered ${r.status}`;
    throw new Error(message);
  }
  return data;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function jobRow(job) {
  const tr = document.createElement("tr");
  tr.dataset.id = job.id;
  tr.dataset.state = job.state;
  cell(tr, job.id);
  cell(tr, job.kind);
  cell(tr, job.state, "state state-" + job.state.toLowerCase());
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = job.progress;
  const td = cell(tr, "", "nowrap");
  td.appendChild(bar);
  td.appendChild(document.createTextNode(" " + Math.round(job.progress * 100) + "%"));
  cell(tr, job.error || job.message || "");
  const actions = cell(tr, "");
  const logs = document.createElement("a");
  logs.href = `/v1/jobs/${encodeURIComponent(job.id)}/logs`;
  logs.target = "_blank";
  logs.textContent = "logs";
  actions.appendChild(logs);
  if (job.state === "SUCCEEDED" && job.result && job.result.report) {
    const rep = document.createElement("a");
    rep.href = `/v1/reports/${encodeURIComponent(job.id)}/report.html`;
    rep.target = "_blank";
    rep.className = "report";
    rep.textContent = "report";
    actions.append(" ", rep);
  }
  if (!FINAL.has(job.state) && job.state !== "CANCELLING") {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "cancel";
    btn.textContent = "cancel";
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        await api("POST", `/v1/jobs/${encodeURIComponent(job.id)}/cancel`);
        notice(`cancelling ${job.id}`);
        refreshJobs();
      } catch (err) { notice(err.message, true); btn.disabled = false; }
    });
    actions.append(" ", btn);
  }
  return tr;
}

let known = new Map();
let modelsShown = null;

async function refreshJobs() {
  let jobs;
  try { jobs = await api("GET", "/v1/jobs?limit=50"); } catch (err) { notice(err.message, true); return; }
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren(...jobs.map(jobRow));
  document.getElementById("jobs-empty").hidden = jobs.length > 0;
  const finishedNow = jobs.some(j => FINAL.has(j.state) && known.has(j.id) && !FINAL.has(known.get(j.id)));
  known = new Map(jobs.map(j => [j.id, j.state]));
  const succeeded = jobs.filter(j => j.state === "SUCCEEDED").length;
  if (modelsShown === null) modelsShown = succeeded;
  if (finishedNow && succeeded !== modelsShown) location.reload();  // a new model is registered
}

document.getElementById("run-data")?.addEventListener("change", (event) => {
  const model = event.target.selectedOptions[0]?.dataset.model;
  if (model) document.getElementById("run-model").value = model;  // a default that works for this data
});

document.getElementById("run-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const spec = {data: form.data.value, model: form.model.value};
  if (form.adapter.value) spec.adapter = form.adapter.value;
  if (form.epochs.value) spec.epochs = Number(form.epochs.value);
  const attacks = [...form.querySelectorAll("input[name=attacks]:checked")].map(c => c.value);
  if (attacks.length) spec.attacks = attacks;
  const name = form.model_name.value.trim();
  const query = name ? `?model_name=${encodeURIComponent(name)}` : "";
  try {
    const job = await api("POST", "/v1/jobs/run" + query, JSON.stringify(spec), {"Content-Type": "application/json"});
    notice(`submitted ${job.id}`);
    refreshJobs();
  } catch (err) { notice(err.message, true); }
});

document.getElementById("upload-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = document.getElementById("upload-file").files[0];
  if (!file) { notice("choose a file to upload", true); return; }
  const params = new URLSearchParams({filename: file.name});
  const name = document.getElementById("upload-name").value.trim();
  if (name) params.set("name", name);
  try {
    const ds = await api("POST", "/v1/datasets?" + params, file, {"Content-Type": "application/octet-stream"});
    notice(`uploaded ${ds.name}: ${ds.info.examples} examples, ${ds.info.classes.length} classes`);
    setTimeout(() => location.reload(), 600);
  } catch (err) { notice(err.message, true); }
});

for (const btn of document.querySelectorAll("button.alias")) {
  btn.addEventListener("click", async () => {
    const alias = (prompt(`alias for ${btn.dataset.model} version ${btn.dataset.version}`, "production") || "").trim();
    if (!alias) return;
    try {
      await api("PUT", `/v1/models/${encodeURIComponent(btn.dataset.model)}/aliases/${encodeURIComponent(alias)}`,
                JSON.stringify({version: Number(btn.dataset.version)}), {"Content-Type": "application/json"});
      location.reload();
    } catch (err) { notice(err.message, true); }
  });
}

function predictionRow(input, top, set, unfamiliar, score) {
  const tr = document.createElement("tr");
  cell(tr, input);
  cell(tr, top ? `${top.label} (${Math.round(top.probability * 1000) / 10}%)` : "");
  const sets = cell(tr, "", "set");
  for (const label of set || []) {
    const pill = document.createElement("span");
    pill.className = "pill";
    pill.textContent = label;
    sets.appendChild(pill);
  }
  if (!set) sets.textContent = "-";
  const flag = cell(tr, "");
  if (unfamiliar !== null && unfamiliar !== undefined) {
    const badge = document.createElement("span");
    badge.className = "badge " + (unfamiliar ? "unfamiliar" : "familiar");
    badge.textContent = unfamiliar ? "unfamiliar" : "familiar";
    badge.title = `unfamiliar-input score ${score.toFixed(3)}` + (unfamiliar ? ": unlike the training data, trust the answer less" : "");
    flag.appendChild(badge);
  } else flag.textContent = "-";
  return tr;
}

function showPredictionInputs() {
  const chosen = document.getElementById("predict-model")?.selectedOptions[0];
  if (!chosen) return;
  const text = chosen.dataset.modality === "text";
  document.getElementById("predict-texts").hidden = !text;
  document.getElementById("predict-images").hidden = text;
}

document.getElementById("predict-model")?.addEventListener("change", showPredictionInputs);
showPredictionInputs();

document.getElementById("predict-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const chosen = document.getElementById("predict-model").selectedOptions[0];
  const base = `/v1/models/${encodeURIComponent(chosen.value)}/predict`;
  const query = `?version=${encodeURIComponent(chosen.dataset.version)}`;
  let inputs, out;
  try {
    if (chosen.dataset.modality === "text") {
      inputs = document.getElementById("predict-text").value.split("\n").map(t => t.trim()).filter(Boolean);
      if (!inputs.length) { notice("type at least one text", true); return; }
      out = await api("POST", base + query, JSON.stringify({texts: inputs, top_k: 3}), {"Content-Type": "application/json"});
    } else {
      const files = [...document.getElementById("predict-files").files];
      if (!files.length) { notice("choose at least one image", true); return; }
      const form = new FormData();
      for (const f of files) form.append("files", f);
      inputs = files.map(f => f.name);
      out = await api("POST", base + "/files" + query, form);
    }
  } catch (err) { notice(err.message, true); return; }
  const rows = inputs.map((input, i) => predictionRow(input, out.predictions[i][0], out.sets ? out.sets[i] : null,
                                                      out.unfamiliar ? out.unfamiliar[i] : null,
                                                      out.scores ? out.scores[i] : 0));
  document.querySelector("#predictions tbody").replaceChildren(...rows);
  document.getElementById("predictions").hidden = false;
  const note = document.getElementById("predict-note");
  note.textContent = out.note || (out.coverage ? `${out.model} version ${out.version}: each set holds the true label ${Math.round(out.coverage * 100)}% of the time; probabilities are calibrated.` : "");
  note.hidden = !note.textContent;
});

if (document.getElementById("jobs")) {
  refreshJobs();
  setInterval(refreshJobs, 1000);
}
