// The collector's dashboard: plain JS over the query API, plots with the vendored uPlot.
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"];
const plots = {};

function iso(ms) { return ms == null ? "-" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"); }

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

function fillTable(id, rows) {
  const tbody = document.querySelector(`#${id} tbody`);
  tbody.replaceChildren(...rows.map(cells => {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.appendChild(td);
    }
    return tr;
  }));
  return tbody;
}

function drawPlot(id, opts, data) {
  if (plots[id]) plots[id].destroy();
  const el = document.getElementById(id);
  opts.width = Math.max(600, el.clientWidth || 900);
  plots[id] = new uPlot(opts, data, el);
  return plots[id];
}

function labelsOf(values) { return [...new Set(values.filter(v => v != null))].sort(); }

async function loadNodes() {
  const nodes = await getJSON("/api/v1/nodes");
  const tbody = fillTable("nodes", nodes.map(n => [n.node_id, n.health, iso(n.last_seen_ms),
    iso(n.last_window_ms), n.windows, n.errors, n.model_id || "-"]));
  [...tbody.rows].forEach((tr, i) => {
    tr.cells[1].className = "health-" + nodes[i].health.replace(" ", "-");
    tr.addEventListener("click", () => selectNode(nodes[i].node_id));
  });
  const first = nodes.find(n => n.windows > 0);
  if (first) await selectNode(first.node_id);
}

async function selectNode(nodeId) {
  document.getElementById("node-name").textContent = nodeId;
  document.querySelectorAll("#nodes tbody tr").forEach(
    tr => tr.classList.toggle("selected", tr.cells[0].textContent === nodeId));
  const lv = await getJSON(`/api/v1/nodes/${encodeURIComponent(nodeId)}/levels`);
  const t = lv.t_ms.map(ms => ms / 1000);
  const levelPlot = drawPlot("levels-plot", {
    title: "levels", height: 260, scales: { x: { time: true } },
    axes: [{}, { label: "dB" }],
    series: [{}, { label: "LAeq", stroke: COLORS[0] }, { label: "LAFmax", stroke: COLORS[1] },
             { label: "LCeq", stroke: COLORS[2] }],
  }, [t, lv.laeq, lv.lafmax, lv.lceq]);
  levelPlot.over.addEventListener("click", () => {
    const i = levelPlot.cursor.idx;
    if (i == null) return;
    document.getElementById("search-node").value = nodeId;
    document.getElementById("search-index").value = lv.index[i];
    runSearch();
  });
  // one point series per class: the window's most probable class at its probability
  const labels = labelsOf(lv.top_label);
  const series = labels.map(label => lv.top_label.map((l, i) => l === label ? lv.top_prob[i] : null));
  drawPlot("classes-plot", {
    title: "detected classes (most probable class per window)", height: 200,
    scales: { x: { time: true }, y: { range: [0, 1] } }, axes: [{}, { label: "probability" }],
    series: [{}, ...labels.map((label, k) => ({
      label, stroke: COLORS[k % COLORS.length], paths: () => null,
      points: { show: true, size: 4, fill: COLORS[k % COLORS.length] } }))],
  }, [t, ...series]);
}

async function loadHourly() {
  const rows = await getJSON("/api/v1/classes/hourly");
  fillTable("hourly", rows.map(r => [iso(r.hour_ms), r.label, r.count]));
  const hours = [...new Set(rows.map(r => r.hour_ms))].sort((a, b) => a - b);
  const labels = labelsOf(rows.map(r => r.label));
  const counts = labels.map(label => hours.map(h => {
    const row = rows.find(r => r.hour_ms === h && r.label === label);
    return row ? row.count : 0;
  }));
  const x = hours.map(h => h / 1000);
  drawPlot("hourly-plot", {
    title: "windows per hour and class", height: 220,
    // the hours themselves with half an hour of margin: uPlot widens a lone time point to
    // 86,400,000 s before calling range, which gave a single hour an axis of years
    scales: { x: { time: true, range: (u, lo, hi) =>
      x.length ? [x[0] - 1800, x[x.length - 1] + 1800] : [lo, hi] } },
    axes: [{}, { label: "windows" }],
    series: [{}, ...labels.map((label, k) => ({
      label, stroke: COLORS[k % COLORS.length], points: { show: true } }))],
  }, [x, ...counts]);
}

async function runSearch(event) {
  if (event) event.preventDefault();
  const status = document.getElementById("search-status");
  const query = { node_id: document.getElementById("search-node").value,
                  index: Number(document.getElementById("search-index").value),
                  k: Number(document.getElementById("search-k").value) };
  status.textContent = "searching...";
  try {
    const result = await getJSON("/api/v1/search", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(query) });
    fillTable("search-results", result.results.map(r => [iso(r.t_ms), r.node_id, r.index,
      r.similarity.toFixed(3), r.top_label || "-", r.laeq == null ? "-" : r.laeq.toFixed(1)]));
    status.textContent = `${result.results.length} moments like window ${query.index} of ` +
      `${query.node_id} (model ${result.model_id})`;
  } catch (err) {
    status.textContent = "search failed: " + err.message;
  }
}

document.getElementById("search-form").addEventListener("submit", runSearch);
Promise.all([loadNodes(), loadHourly()]).then(
  () => document.body.dataset.loaded = "true",
  err => { document.body.dataset.loaded = "error"; console.error(err); });
