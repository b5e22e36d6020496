// The dashboard's charts, drawn by uPlot (vendored from the npm registry at install time, see
// ops/vendor/) from /ops/api/series: the recorder's own buckets. The last hour (one point a minute) or
// the last 24 h (one point per 5 minutes); every 10 s only the newest points are fetched and merged.
(function () {
  "use strict";
  const D = window.OpsDash;
  const STATE_COLORS = { SUCCESS: "#1b7f3b", FAILURE: "#b3261e", RETRY: "#d08c00", REVOKED: "#7b3fa0",
    IGNORED: "#777", REJECTED: "#8a4b08" };
  const PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#bf8700", "#8250df", "#0a7a8a", "#cf222e", "#57606a"];
  let span = "1h";
  let data = null;  // the series as the API returned them, merged as updates arrive
  const charts = {};

  function color(i) { return PALETTE[i % PALETTE.length]; }

  // Each chart: its element, and from the API data the y series [{label, values, color, dash}].
  const DEFS = {
    throughput: (d) => Object.keys(d.states).sort().map((state, i) =>
      ({ label: state, values: d.states[state], color: STATE_COLORS[state] || color(i) })),
    failures: (d) => ["FAILURE", "RETRY"].map((state) =>
      ({ label: state, values: d.states[state] || d.times.map(() => 0), color: STATE_COLORS[state] })),
    runtime: (d) => Object.keys(d.runtime).flatMap((task, i) => [
      { label: task.split(".").pop() + " p50", values: d.runtime[task].p50, color: color(i) },
      { label: task.split(".").pop() + " p95", values: d.runtime[task].p95, color: color(i), dash: [6, 4] },
    ]),
    queues: (d) => Object.keys(d.queues).sort().map((queue, i) =>
      ({ label: queue, values: d.queues[queue].ready, color: color(i) })),
    scheduler: (d) => [{ label: "scheduled runs", values: d.scheduled_runs, color: "#1f6feb" }],
  };

  function draw(name) {
    const element = document.getElementById("chart-" + name);
    const lines = DEFS[name](data);
    const key = span + "|" + lines.map((line) => line.label).join("|");
    const values = [data.times, ...lines.map((line) => line.values)];
    const points = lines.reduce((n, line) => n + line.values.filter((v) => v !== null && v !== 0).length, 0);
    element.dataset.points = String(points);
    element.dataset.total = String(lines.reduce((n, line) => n + line.values.reduce((a, v) => a + (v || 0), 0), 0));
    element.dataset.series = String(lines.length);
    element.dataset.count = String(data.times.length);
    const chart = charts[name];
    if (chart && chart.key === key) {
      chart.plot.setData(values);
      return;
    }
    if (chart) chart.plot.destroy();
    const width = Math.max(280, element.clientWidth || 420);
    const opts = {
      width,
      height: 180,
      scales: { x: { time: true } },
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      series: [{}, ...lines.map((line) => ({
        label: line.label, stroke: line.color, width: 1.5, dash: line.dash, spanGaps: name !== "queues",
        points: { show: data.times.length < 100 },
      }))],
      axes: [{}, { size: 50 }],
    };
    charts[name] = { key, plot: new uPlot(opts, values, element) };
  }

  function drawAll() {
    for (const name of Object.keys(DEFS)) draw(name);
    document.body.dataset.charted = String(Date.now());
  }

  // Replace the points from `update.times[0]` on with the update's (the last one was still filling).
  function merge(update) {
    if (!data || !update.times.length) return;
    const from = data.times.indexOf(update.times[0]);
    const keep = from < 0 ? data.times.length : from;
    const drop = Math.max(0, keep + update.times.length - (data.times.length));  // slide the window
    const joined = (old, fresh, filler) => old.slice(drop, keep).concat(fresh || update.times.map(() => filler));
    const pad = (fresh, filler) => fresh || update.times.map(() => filler);
    const states = {};
    for (const state of new Set([...Object.keys(data.states), ...Object.keys(update.states)])) {
      states[state] = joined(data.states[state] || data.times.map(() => 0), pad(update.states[state], 0), 0);
    }
    const runtime = {};
    for (const task of Object.keys(data.runtime)) {  // the busiest tasks of the first read stay drawn
      const fresh = update.runtime[task] || {};
      runtime[task] = { p50: joined(data.runtime[task].p50, pad(fresh.p50, null)),
        p95: joined(data.runtime[task].p95, pad(fresh.p95, null)) };
    }
    const queues = {};
    for (const queue of new Set([...Object.keys(data.queues), ...Object.keys(update.queues)])) {
      const old = data.queues[queue] || { ready: data.times.map(() => null) };
      queues[queue] = { ready: joined(old.ready, pad((update.queues[queue] || {}).ready, null)) };
    }
    data = {
      ...data,
      times: data.times.slice(drop, keep).concat(update.times),
      states, runtime, queues,
      scheduled_runs: joined(data.scheduled_runs, update.scheduled_runs),
    };
  }

  async function load(since) {
    const params = new URLSearchParams({ span });
    if (since !== undefined) params.set("since", String(since));
    const response = await fetch(D.cfg.seriesUrl + "?" + params, { credentials: "same-origin" });
    if (!response.ok) return;
    const update = await response.json();
    if (update.span !== span) return;  // the span changed while this was on its way
    if (since === undefined || !data) data = update;
    else merge(update);
    drawAll();
  }

  function tick() {
    if (!data || data.times.length < 2) return load();
    return load(data.times[data.times.length - 2]).catch(() => {});
  }

  document.querySelectorAll("button.span").forEach((button) => button.addEventListener("click", () => {
    span = button.dataset.span;
    document.querySelectorAll("button.span").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    document.getElementById("span-label").textContent = span === "1h" ? "hour" : "24 hours";
    data = null;
    load();
  }));
  load();
  setInterval(tick, 10 * 1000);
})();
