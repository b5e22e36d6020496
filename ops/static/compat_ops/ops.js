// The ops dashboard: re-renders the server-rendered tables from /ops/api/overview every few seconds,
// searches tasks (with paging), polls the workers panel (inspect) more slowly, and sends the actions
// (confirmed first; CSRF-protected POSTs). charts.js and detail.js use the helpers it exports.
(function () {
  "use strict";
  const body = document.body;
  const cfg = body.dataset;
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const $ = (selector) => document.querySelector(selector);
  const form = $("#recent-filters");
  const PAGE = 50;
  let offset = 0;
  let inspected = {};  // worker id -> {concurrency, uptime, active}, from the slower workers poll

  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, (c) =>
      ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function ago(epoch) {
    const seconds = Math.max(0, Date.now() / 1000 - epoch);
    if (seconds < 60) return seconds.toFixed(0) + " s ago";
    if (seconds < 3600) return (seconds / 60).toFixed(0) + " min ago";
    return new Date(epoch * 1000).toLocaleString();
  }
  function dur(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    return seconds < 1 ? (seconds * 1000).toFixed(1) + " ms" : seconds.toFixed(2) + " s";
  }
  function uptime(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 120) return seconds + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }
  function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }
  function clock(epoch) { return new Date(epoch * 1000).toLocaleTimeString(); }
  function shortId(id) { return id && id.length > 13 ? id.slice(0, 12) + "…" : id; }
  function rows(selector, items, columns, render) {
    const html = items.length ? items.map(render).join("")
      : `<tr class="empty"><td colspan="${columns}">nothing to show</td></tr>`;
    $(selector + " tbody").innerHTML = html;
  }
  function url(template, values) {
    return Object.entries(values).reduce((text, [key, value]) => text.replace(key, encodeURIComponent(value)), template);
  }

  async function post(target, payload) {
    const response = await fetch(target, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(payload || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
    return data;
  }
  // Every action asks first, and says so to the server ({"confirm": true}).
  async function act(question, target, payload, messageSelector) {
    if (!confirm(question)) return null;
    try {
      const done = await post(target, Object.assign({ confirm: true }, payload || {}));
      $(messageSelector).textContent = "done: " + JSON.stringify(done);
      return done;
    } catch (error) {
      $(messageSelector).innerHTML = `<span class="error">failed: ${esc(error.message)}</span>`;
      return null;
    } finally {
      refresh();
    }
  }

  function filters() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (!value) continue;
      if (key === "since" || key === "until") params.set(key, String(new Date(value).getTime() / 1000));
      else params.set(key, value);
    }
    params.set("offset", String(offset));
    params.set("limit", String(PAGE));
    return params;
  }

  function workerRow(w) {
    const seen = inspected[w.id] || {};
    const status = w.alive ? "" : ` <span class="state FAILURE">${w.stopped ? "stopped" : "dead"}</span>`;
    const active = (seen.active || []).map((t) =>
      `<a href="#" class="task-link" data-id="${esc(t.id)}"><code>${esc(t.name)}</code></a>`).join("<br>");
    return `<tr data-worker="${esc(w.id)}" class="${w.alive ? "alive" : "dead"}"><td>${esc(w.host)}${status}</td>` +
      `<td class="num">${w.pid}</td><td>${esc(w.queues.join(", "))}</td>` +
      `<td class="num">${seen.concurrency === undefined || seen.concurrency === null ? "–" : seen.concurrency}</td>` +
      `<td>${uptime(seen.uptime)}</td><td>${w.alive ? ago(w.heartbeat) : "last seen " + ago(w.stopped || w.heartbeat)}</td>` +
      `<td class="num">${w.done}</td><td class="num">${w.failed}</td><td class="active">${active}</td></tr>`;
  }

  function render(data) {
    rows("#queues", data.queues, 5, (q) =>
      `<tr data-queue="${esc(q.name)}"><td>${esc(q.name)}</td><td class="num">${q.ready}</td>` +
      `<td class="num">${q.delayed}</td><td class="num">${q.in_progress}</td><td class="num">${q.dead}</td></tr>`);
    rows("#workers", data.workers, 9, workerRow);
    $("#minutes").textContent = data.minutes;
    rows("#tasks", data.tasks, 8, (t) =>
      `<tr data-task="${esc(t.task)}"><td><code>${esc(t.task)}</code></td><td class="num">${t.per_minute}</td>` +
      `<td class="num">${t.states.SUCCESS || 0}</td><td class="num">${t.states.FAILURE || 0}</td>` +
      `<td class="num">${t.states.RETRY || 0}</td><td class="num">${dur(t.mean)}</td>` +
      `<td class="num">${dur(t.p50)}</td><td class="num">${dur(t.p95)}</td></tr>`);
    $("#task-names").innerHTML = data.tasks.map((t) => `<option value="${esc(t.task)}">`).join("");
    rows("#recent", data.recent, 8, (e) =>
      `<tr class="clickable" data-id="${esc(e.id)}"><td>${clock(e.finished)}</td><td><code>${esc(e.task)}</code></td>` +
      `<td><code>${esc(shortId(e.id))}</code></td><td class="state ${esc(e.state)}">${esc(e.state)}</td>` +
      `<td class="num">${dur(e.runtime)}</td><td class="num">${e.retries}</td><td>${esc(e.queue)}</td>` +
      `<td><code>${esc(String(e.args || "").slice(0, 40))}</code></td></tr>`);
    const page = data.recent_page;
    $("#page-prev").disabled = page.offset === 0;
    $("#page-next").disabled = !page.more;
    $("#page-info").textContent = `page ${page.offset / PAGE + 1} (${page.scanned} executions read)`;
    $("#dead-count").textContent = data.dead_letters.count;
    rows("#dead-letters", data.dead_letters.results, 7, (d) =>
      `<tr data-id="${esc(d.id)}"><td>${esc(when(d.failed_at))}</td><td><code>${esc(d.task)}</code></td>` +
      `<td class="clickable"><code>${esc(shortId(d.id))}</code></td><td>${esc(d.queue)}</td><td>${esc(d.reason)}</td>` +
      `<td>${esc(d.exception_repr)}</td><td><button type="button" class="requeue">Requeue…</button> ` +
      `<button type="button" class="purge danger">Purge…</button></td></tr>`);
    const s = data.scheduler;
    $("#leader").innerHTML = s.leader
      ? `leader <code>${esc(s.leader.token)}</code> (lease ${s.leader.ttl.toFixed(1)} s)`
      : s.available ? '<span class="error">no leader: no scheduler daemon holds the lease</span>'
        : '<span class="muted">scheduler not installed</span>';
    if (s.error) $("#leader").innerHTML += ` <span class="error">${esc(s.error)}</span>`;
    rows("#schedule-entries", s.entries, 6, (e) =>
      `<tr data-entry="${esc(e.name)}"><td>${esc(e.name)}</td><td><code>${esc(e.task)}</code></td>` +
      `<td>${esc(e.trigger)}</td><td>${esc(e.last_run || "never")}</td>` +
      `<td>${e.next_runs.map((t) => esc(new Date(t).toLocaleString())).join("<br>")}</td>` +
      `<td><button type="button" class="schedule" data-action="run">Run now…</button></td></tr>`);
    rows("#schedule-rows", s.rows || [], 7, (r) =>
      `<tr data-entry="${esc(r.name)}"><td>${esc(r.name)}</td><td><code>${esc(r.task)}</code></td>` +
      `<td>${esc(r.schedule)}</td><td class="enabled">${r.enabled ? "yes" : "no"}</td><td>${esc(r.last_run || "never")}</td>` +
      `<td class="num">${r.total_run_count}</td><td>` +
      `<button type="button" class="schedule" data-action="${r.enabled ? "disable" : "enable"}">${r.enabled ? "Disable…" : "Enable…"}</button> ` +
      `<button type="button" class="schedule" data-action="run">Run now…</button></td></tr>`);
    rows("#actions", data.actions, 4, (a) =>
      `<tr><td>${ago(a.at)}</td><td>${esc(a.user)}</td><td>${esc(a.action)}</td><td><code>${esc(a.target)}</code></td></tr>`);
  }

  async function refresh() {
    try {
      const response = await fetch(cfg.overviewUrl + "?" + filters(), { credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
      render(data);
      $("#status").textContent = "updated " + new Date().toLocaleTimeString();
      body.dataset.refreshed = String(Date.now());
    } catch (error) {
      $("#status").innerHTML = `<span class="error">refresh failed (${esc(error.message)}); retrying</span>`;
    }
  }

  async function refreshWorkers() {
    try {
      const response = await fetch(cfg.workersUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const workers = await response.json();
      inspected = Object.fromEntries(workers.map((w) => [w.id, w]));
      rows("#workers", workers, 9, workerRow);
      body.dataset.inspected = String(Date.now());
    } catch (error) { /* the overview's status line reports outages */ }
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    const row = target.closest("tr[data-id]");
    const entry = target.closest("tr[data-entry]");
    if (target.matches("#dead-letters button.requeue")) {
      act("Requeue dead letter " + row.dataset.id + "?", url(cfg.requeueUrl, { TASK_ID: row.dataset.id }), {}, "#dead-message");
    } else if (target.matches("#dead-letters button.purge")) {
      act("Delete dead letter " + row.dataset.id + "?", url(cfg.purgeUrl, { TASK_ID: row.dataset.id }), {}, "#dead-message");
    } else if (target.matches("#requeue-all")) {
      act("Requeue every dead letter (" + $("#dead-count").textContent + ")?", cfg.bulkUrl,
        { action: "requeue", all: true }, "#dead-message");
    } else if (target.matches("#purge-all")) {
      act("Delete every dead letter (" + $("#dead-count").textContent + ") for good?", cfg.bulkUrl,
        { action: "purge", all: true }, "#dead-message");
    } else if (target.matches("button.schedule")) {
      const action = target.dataset.action;
      act(`${action === "run" ? "Run" : action[0].toUpperCase() + action.slice(1)} schedule ${entry.dataset.entry}${action === "run" ? " now" : ""}?`,
        url(cfg.scheduleUrl, { NAME: entry.dataset.entry, ACTION: action }), {}, "#schedule-message");
    } else if (target.matches("#page-prev")) {
      offset = Math.max(0, offset - PAGE); refresh();
    } else if (target.matches("#page-next")) {
      offset += PAGE; refresh();
    } else if (target.closest("a.task-link")) {
      event.preventDefault();
      window.OpsDash.showTask(target.closest("a.task-link").dataset.id);
    } else if (row && (row.classList.contains("clickable") || target.closest("td.clickable"))) {
      window.OpsDash.showTask(row.dataset.id);
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    const id = $("#filter-id").value.trim();
    refresh();
    if (id) window.OpsDash.showTask(id);  // an id is also looked up in the result store
  });
  form.addEventListener("change", (event) => {
    if (event.target.id !== "filter-id") { offset = 0; refresh(); }
  });
  document.querySelectorAll("[data-epoch]").forEach((cell) => { cell.textContent = ago(Number(cell.dataset.epoch)); });

  window.OpsDash = { cfg, esc, dur, ago, url, post, act, refresh, $ };
  refresh();
  refreshWorkers();
  setInterval(refresh, Number(cfg.pollSeconds || 3) * 1000);
  setInterval(refreshWorkers, 10 * 1000);
})();
