// Tessera dashboard: runs table, run page, compare view. Plain JavaScript, no dependencies; charts are SVG drawn here.
"use strict";

const state = { refreshMs: 2000, timer: null, sort: { key: "start", desc: true }, filter: "", status: "", selected: new Set(),
  chart: { log: false, smoothing: 0 } };
const palette = ["#3156d3", "#d94f2b", "#2a9d5c", "#9b4dca", "#c7961c", "#1c9bb0", "#d23f86", "#5b6472"];
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function fmtNumber(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v; // NaN, Infinity
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3).replace(/\.?0+e/, "e") : v.toPrecision(4).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

function fmtDuration(s) {
  if (s === null || s === undefined) return "";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
}

function fmtTime(ms) { return ms ? new Date(ms).toLocaleString() : ""; }
function fmtBytes(n) { return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : n < 1073741824 ? (n / 1048576).toFixed(1) + " MiB" : (n / 1073741824).toFixed(2) + " GiB"; }
function statusBadge(s) { return el("span", { class: "status " + s, "data-status": s }, s); }
function shortId(id) { return id.slice(0, 8); }

function setTimer(fn) {
  clearTimeout(state.timer);
  state.timer = fn ? setTimeout(fn, state.refreshMs) : null;
}

// ---- charts ----

function niceTicks(min, max, count) {
  if (!(max > min)) { const d = Math.abs(min) * 0.1 || 1; min -= d; max += d; }
  const raw = (max - min) / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return { min: Math.min(min, ticks[0]), max: Math.max(max, ticks[ticks.length - 1]), ticks };
}

// TensorBoard's smoothing: an exponential moving average with weight w, divided by (1 - w^n) so the first points are
// not pulled towards 0.
function smooth(points, w) {
  let last = 0, n = 0;
  return points.map(([x, y]) => { last = last * w + (1 - w) * y; n++; return [x, last / (1 - Math.pow(w, n))]; });
}

// Log scale and smoothing for every chart; redraw() draws the charts again when they change.
function chartControls(redraw) {
  const log = el("input", { type: "checkbox", id: "log-scale", checked: state.chart.log });
  const smoothing = el("input", { type: "range", id: "smoothing", min: "0", max: "0.99", step: "0.01", value: String(state.chart.smoothing) });
  const shown = el("span", { class: "mono", id: "smoothing-value" }, state.chart.smoothing.toFixed(2));
  log.addEventListener("change", () => { state.chart.log = log.checked; redraw(); });
  smoothing.addEventListener("input", () => { state.chart.smoothing = Number(smoothing.value); shown.textContent = state.chart.smoothing.toFixed(2); redraw(); });
  return el("div", { class: "chart-controls" }, el("label", {}, log, " log scale"), " ", el("label", {}, "smoothing ", smoothing, " ", shown));
}

// series: [{ name, color, points: [[step, value], ...] }]; state.chart sets log scale and smoothing.
function drawChart(title, series, width = 460, height = 230) {
  const box = el("div", { class: "chart-box" }, el("div", { class: "title" }, title));
  const { log, smoothing } = state.chart;
  // On a log scale the values are drawn as log10(value); zero and negative values cannot be and are left out.
  const keep = p => typeof p[1] === "number" && isFinite(p[1]) && (!log || p[1] > 0);
  const finite = series.map(s => ({ ...s, points: s.points.filter(keep) }));
  for (const s of finite) s.smoothed = smoothing > 0 ? smooth(s.points, smoothing) : null;
  const dropped = series.reduce((n, s) => n + s.points.filter(p => typeof p[1] === "number" && isFinite(p[1])).length, 0) - finite.reduce((n, s) => n + s.points.length, 0);
  if (dropped > 0) box.append(el("div", { class: "muted note" }, `${dropped} value(s) <= 0 not shown on the log scale`));
  const all = finite.flatMap(s => s.points);
  const chart = svg("svg", { class: "chart" + (log ? " log" : ""), width, height, viewBox: `0 0 ${width} ${height}`, "data-metric": title, "data-points": String(all.length) });
  box.append(chart);
  if (all.length === 0) { const t = svg("text", { x: 10, y: 20 }); t.textContent = "no finite values"; chart.append(t); return box; }
  const m = { l: 52, r: 10, t: 8, b: 24 };
  const xs = niceTicks(Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0])), 5);
  const V = log ? Math.log10 : v => v; // value -> drawn coordinate
  const ys = niceTicks(Math.min(...all.map(p => V(p[1]))), Math.max(...all.map(p => V(p[1]))), 4);
  const X = x => m.l + (x - xs.min) / (xs.max - xs.min) * (width - m.l - m.r);
  const Y = y => height - m.b - (V(y) - ys.min) / (ys.max - ys.min) * (height - m.t - m.b);
  for (const t of ys.ticks) {
    const at = log ? Math.pow(10, t) : t;
    chart.append(svg("line", { class: "grid", x1: m.l, x2: width - m.r, y1: Y(at), y2: Y(at) }));
    const label = svg("text", { x: m.l - 4, y: Y(at) + 3, "text-anchor": "end" }); label.textContent = fmtNumber(log ? Number(at.toPrecision(3)) : t); chart.append(label);
  }
  for (const t of xs.ticks) {
    const label = svg("text", { x: X(t), y: height - m.b + 14, "text-anchor": "middle" }); label.textContent = fmtNumber(t); chart.append(label);
  }
  chart.append(svg("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: height - m.b }));
  chart.append(svg("line", { class: "axis", x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b }));
  for (const s of finite) {
    if (s.points.length === 0) continue;
    const line = pts => pts.map((p, i) => (i ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1)).join(" ");
    // With smoothing the raw curve stays as a faint trace under the smoothed one, as in TensorBoard.
    const path = svg("path", { class: "series" + (s.smoothed ? " raw" : ""), d: line(s.points), stroke: s.color, "data-run": s.name, "data-points": String(s.points.length) });
    const tip = svg("title"); tip.textContent = `${s.name}: last ${fmtNumber(s.points[s.points.length - 1][1])} at step ${s.points[s.points.length - 1][0]}`;
    path.append(tip);
    chart.append(path);
    if (s.smoothed) chart.append(svg("path", { class: "smoothed", d: line(s.smoothed), stroke: s.color, "data-run": s.name, "data-points": String(s.smoothed.length) }));
    if (s.points.length === 1) chart.append(svg("circle", { cx: X(s.points[0][0]), cy: Y(s.points[0][1]), r: 2.5, fill: s.color }));
  }
  return box;
}

// ---- runs table ----

const preferredMetrics = ["val_acc", "val_loss", "test_acc", "train_loss", "loss", "val_perplexity", "accuracy"];

async function runsView(main) {
  // The page shell stays while the table refreshes (a running run polls), so typing in the filter is never interrupted.
  const filterInput = el("input", { type: "search", id: "filter", placeholder: "filter: lr=0.001 tag.key=value name…", value: state.filter });
  filterInput.addEventListener("keydown", e => { if (e.key === "Enter") { state.filter = filterInput.value.trim(); refresh(); } });
  const statusSelect = el("select", { id: "status-filter", onchange: e => { state.status = e.target.value; refresh(); } },
    ["", "RUNNING", "FINISHED", "FAILED", "KILLED"].map(s => el("option", { value: s, selected: s === state.status }, s || "any status")));
  const compareButton = el("button", { id: "compare", disabled: state.selected.size < 2, onclick: () => { location.hash = "#/compare/" + [...state.selected].join(","); } }, "Compare selected");
  const count = el("span", { class: "muted", id: "run-count" });
  const holder = el("div", { id: "runs-holder" });
  main.replaceChildren(el("h1", {}, "Runs ", count), el("div", { class: "toolbar" }, filterInput, statusSelect, compareButton), holder);
  let layout = null, tbody = null;

  async function refresh() {
    setTimer(null);
    const query = new URLSearchParams();
    if (state.filter) query.set("filter", state.filter);
    if (state.status) query.set("status", state.status);
    let data;
    try { data = await api("/api/runs?" + query); }
    catch (e) { holder.replaceChildren(el("p", { class: "error" }, "Cannot load runs: " + e.message)); return; }
    if (route().view !== "runs" || !holder.isConnected) return; // navigated away while loading
    count.textContent = `(${data.total})`;

    const counts = {};
    for (const r of data.runs) for (const k of Object.keys(r.metrics)) counts[k] = (counts[k] || 0) + 1;
    const metricKeys = Object.keys(counts).sort((a, b) => {
      const pa = preferredMetrics.indexOf(a), pb = preferredMetrics.indexOf(b);
      if (pa >= 0 || pb >= 0) return (pa < 0 ? 99 : pa) - (pb < 0 ? 99 : pb);
      return counts[b] - counts[a] || a.localeCompare(b);
    }).slice(0, 5);
    const columns = [
      { key: "id", label: "id", value: r => r.id },
      { key: "name", label: "name", value: r => r.name },
      { key: "experiment", label: "experiment", value: r => r.experiment },
      { key: "status", label: "status", value: r => r.status },
      { key: "start", label: "started", value: r => r.start },
      { key: "duration_s", label: "duration", value: r => r.duration_s },
      ...metricKeys.map(k => ({ key: "metric:" + k, label: k, value: r => r.metrics[k], metric: true })),
    ];
    const col = columns.find(c => c.key === state.sort.key) || columns[4];
    const rows = [...data.runs].sort((a, b) => {
      const x = col.value(a), y = col.value(b);
      const c = x === undefined || x === null ? 1 : y === undefined || y === null ? -1 : typeof x === "number" ? x - y : String(x).localeCompare(String(y));
      return state.sort.desc ? -c : c;
    });

    const body = rows.map(r => el("tr", { "data-run-id": r.id },
      el("td", {}, el("input", { type: "checkbox", checked: state.selected.has(r.id), onchange: e => {
        if (e.target.checked) state.selected.add(r.id); else state.selected.delete(r.id);
        compareButton.disabled = state.selected.size < 2;
      } })),
      el("td", { class: "mono", title: r.id }, el("a", { href: "#/run/" + r.id }, shortId(r.id))),
      el("td", {}, el("a", { href: "#/run/" + r.id }, r.name)),
      el("td", {}, r.experiment),
      el("td", {}, statusBadge(r.status)),
      el("td", {}, fmtTime(r.start)),
      el("td", { class: "num" }, fmtDuration(r.duration_s)),
      metricKeys.map(k => el("td", { class: "num", "data-metric": k }, fmtNumber(r.metrics[k])))));

    const newLayout = columns.map(c => c.key).join("|") + "|" + state.sort.key + "|" + state.sort.desc + "|" + (data.runs.length > 0);
    if (newLayout !== layout) {
      layout = newLayout;
      if (data.runs.length === 0) { tbody = null; holder.replaceChildren(el("p", { class: "muted", id: "no-runs" }, "No runs match.")); }
      else {
        const head = el("tr", {}, el("th", {}, ""), columns.map(c => el("th", {
          class: "sortable" + (c.key === state.sort.key ? (state.sort.desc ? " sorted-desc" : " sorted-asc") : ""),
          "data-sort": c.key,
          onclick: () => { state.sort = { key: c.key, desc: c.key === state.sort.key ? !state.sort.desc : c.metric || c.key === "start" }; refresh(); },
        }, c.label)));
        tbody = el("tbody", {}, body);
        holder.replaceChildren(el("table", { id: "runs-table" }, el("thead", {}, head), tbody));
      }
    } else if (tbody) tbody.replaceChildren(...body);
    if (data.runs.some(r => r.status === "RUNNING")) setTimer(refresh);
  }
  await refresh();
}

// ---- run page ----

function kvTable(obj, id, keyLabel = "key", valueLabel = "value") {
  const keys = Object.keys(obj || {});
  if (keys.length === 0) return el("p", { class: "muted" }, "none");
  return el("table", { id }, el("thead", {}, el("tr", {}, el("th", {}, keyLabel), el("th", {}, valueLabel))),
    el("tbody", {}, keys.sort().map(k => el("tr", {}, el("td", { class: "mono" }, k), el("td", { class: "mono" }, typeof obj[k] === "number" ? fmtNumber(obj[k]) : obj[k])))));
}

function mergeSeries(target, incoming) {
  for (const [key, points] of Object.entries(incoming)) {
    const list = target[key] || (target[key] = []);
    for (const p of points) list.push(p);
    list.sort((a, b) => a[0] - b[0]);
  }
}

async function runView(main, id) {
  let run;
  try { run = await api("/api/runs/" + encodeURIComponent(id)); }
  catch (e) { main.replaceChildren(el("p", { class: "error" }, e.message)); return; }
  const metrics = await api(`/api/runs/${run.id}/metrics`);
  const series = metrics.series;
  let lastRow = metrics.last_row;

  const charts = el("div", { class: "charts", id: "charts" });
  const drawCharts = () => {
    const keys = Object.keys(series).sort();
    charts.replaceChildren(...(keys.length ? keys.map(k => drawChart(k, [{ name: run.name, color: palette[0], points: series[k] }])) : [el("p", { class: "muted" }, "no metrics yet")]));
  };
  drawCharts();
  const controls = chartControls(drawCharts);
  const statusHolder = el("span", { id: "run-status" }, statusBadge(run.status));
  const duration = el("span", { id: "run-duration" }, fmtDuration(run.duration_s));

  const sections = [
    el("h1", {}, run.name, " ", statusHolder),
    el("p", { class: "muted" }, el("span", { class: "mono", id: "run-id" }, run.id), " · ", run.experiment, " · started ", fmtTime(run.start), " · ", duration,
      run.parent_id ? [" · parent ", el("a", { href: "#/run/" + run.parent_id }, shortId(run.parent_id))] : []),
    el("p", {}, el("code", { id: "command-line" }, run.command_line)),
    el("h2", {}, "Metrics"), controls, charts,
    el("div", { class: "grid2" },
      el("div", {}, el("h2", {}, "Parameters"), kvTable(run.params, "params-table")),
      el("div", {}, el("h2", {}, "Final metrics"), kvTable(run.metrics, "metrics-table", "metric"))),
    el("h2", {}, "Datasets"),
    run.datasets.length === 0 ? el("p", { class: "muted" }, "none") : el("table", { id: "datasets-table" },
      el("thead", {}, el("tr", {}, ["name", "source", "revision", "sha256", "files", "size"].map(h => el("th", {}, h)))),
      el("tbody", {}, run.datasets.map(d => el("tr", {}, el("td", {}, d.name), el("td", { class: "mono" }, d.source), el("td", { class: "mono" }, d.revision || ""),
        el("td", { class: "mono", title: d.sha256 }, d.sha256.slice(0, 12)), el("td", { class: "num" }, d.file_count), el("td", { class: "num" }, fmtBytes(d.size)))))),
    el("h2", {}, "Artifacts"),
    run.artifacts.length === 0 ? el("p", { class: "muted" }, "none") : el("table", { id: "artifacts-table" },
      el("thead", {}, el("tr", {}, ["kind", "path", "sha256", "files", "size"].map(h => el("th", {}, h)))),
      el("tbody", {}, run.artifacts.map(a => el("tr", {}, el("td", {}, a.kind), el("td", { class: "mono" }, a.path),
        el("td", { class: "mono", title: a.sha256 }, a.sha256.slice(0, 12)), el("td", { class: "num" }, a.file_count), el("td", { class: "num" }, fmtBytes(a.size)))))),
  ];
  if (run.images.length) sections.push(el("h2", {}, "Samples"), el("div", { class: "images", id: "images" },
    run.images.map(i => el("figure", {}, el("img", { src: i.url, alt: i.name }), el("figcaption", { class: "muted" }, i.name)))));
  const cardHolder = el("div", { class: "card", id: "model-card" }, el("p", { class: "muted" }, "loading…"));
  if (run.has_card) sections.push(el("h2", {}, "Model card"), cardHolder);
  sections.push(el("div", { class: "grid2" },
    el("div", {}, el("h2", {}, "Tags"), kvTable(run.tags, "tags-table")),
    el("div", {}, el("h2", {}, "Environment"), kvTable(run.environment, "environment-table"))));
  main.replaceChildren(...sections);

  if (run.has_card) api(`/api/runs/${run.id}/card`).then(card => {
    const doc = new DOMParser().parseFromString(card.html, "text/html"); // the server escaped the card's text; no scripts run from a parsed document
    cardHolder.replaceChildren(...doc.body.childNodes);
  }).catch(e => cardHolder.replaceChildren(el("p", { class: "error" }, e.message)));

  // Live: poll a running run for new points and its status until it ends.
  const poll = async () => {
    const r = route();
    if (r.view !== "run" || r.id !== id) return;
    try {
      const fresh = await api(`/api/runs/${run.id}/metrics?after=${lastRow}`);
      lastRow = fresh.last_row;
      if (Object.keys(fresh.series).length) { mergeSeries(series, fresh.series); drawCharts(); }
      const info = await api("/api/runs/" + run.id);
      statusHolder.replaceChildren(statusBadge(info.status));
      duration.textContent = fmtDuration(info.duration_s);
      if (info.status === "RUNNING") setTimer(poll);
      else runView(main, id); // final state: artifacts, card, final metrics
    } catch (e) { setTimer(poll); }
  };
  if (run.status === "RUNNING") setTimer(poll);
}

// ---- compare ----

async function compareView(main, ids) {
  let data;
  try { data = await api("/api/compare?ids=" + ids.map(encodeURIComponent).join(",")); }
  catch (e) { main.replaceChildren(el("p", { class: "error" }, e.message)); return; }
  const runs = data.runs;
  const histories = await Promise.all(runs.map(r => api(`/api/runs/${r.id}/metrics`)));
  const keys = [...new Set(histories.flatMap(h => Object.keys(h.series)))].sort();
  const charts = el("div", { class: "charts", id: "charts" });
  const drawCharts = () => charts.replaceChildren(...keys.map(k => drawChart(k, runs.map((r, i) => ({ name: r.id, color: palette[i % palette.length], points: histories[i].series[k] || [] })))));
  drawCharts();
  const onlyDiff = el("input", { type: "checkbox", id: "only-differences" });
  const legend = el("div", { class: "legend", id: "legend" }, runs.map((r, i) => {
    const s = el("span", { "data-run": r.id }, `${r.name} (${shortId(r.id)})`); s.style.setProperty("--swatch", palette[i % palette.length]); return s;
  }));
  const header = el("tr", {}, el("th", {}, ""), runs.map(r => el("th", { "data-run": r.id }, el("a", { href: "#/run/" + r.id }, r.name), el("br"), el("span", { class: "mono muted" }, shortId(r.id)))));
  const paramRows = data.params.map(p => el("tr", { class: p.differs ? "differs" : "", "data-key": p.key }, el("td", { class: "mono" }, p.key), p.values.map(v => el("td", { class: "mono" }, v ?? "—"))));
  const paramsTable = el("table", { id: "param-diff" }, el("thead", {}, header.cloneNode(true)), el("tbody", {}, paramRows));
  onlyDiff.addEventListener("change", () => { for (const row of paramRows) row.hidden = onlyDiff.checked && !row.classList.contains("differs"); });
  const metricsTable = el("table", { id: "metric-diff" }, el("thead", {}, header.cloneNode(true)),
    el("tbody", {}, data.metrics.map(m => el("tr", { class: m.differs ? "differs" : "" }, el("td", { class: "mono" }, m.key), m.values.map(v => el("td", { class: "num" }, v === null ? "—" : fmtNumber(v)))))));
  main.replaceChildren(
    el("h1", {}, "Compare ", runs.length, " runs"),
    legend,
    chartControls(drawCharts), charts,
    el("h2", {}, "Parameters ", el("label", { class: "muted" }, onlyDiff, " only differences")), paramsTable,
    el("h2", {}, "Final metrics"), metricsTable);
}

// ---- routing ----

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, arg] = hash.split("/");
  if (view === "run" && arg) return { view: "run", id: decodeURIComponent(arg) };
  if (view === "compare" && arg) return { view: "compare", ids: arg.split(",").filter(Boolean) };
  return { view: "runs" };
}

function render() {
  setTimer(null);
  const main = document.getElementById("main");
  const r = route();
  if (r.view === "run") return runView(main, r.id);
  if (r.view === "compare") return compareView(main, r.ids);
  return runsView(main);
}

window.addEventListener("hashchange", render);
api("/api/info").then(info => {
  state.refreshMs = info.refresh_ms;
  document.getElementById("store").textContent = info.store;
}).catch(() => {}).finally(render);
