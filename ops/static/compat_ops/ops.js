// The ops dashboard: re-renders the server-rendered tables from /ops/api/overview every few seconds,
// opens a task's details, and sends the dead-letter actions (CSRF-protected POSTs).
(function () {
  "use strict";
  const body = document.body;
  const cfg = body.dataset;
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const $ = (selector) => document.querySelector(selector);
  const stateSelect = $("#filter-state");
  const taskInput = $("#filter-task");

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
  function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }
  function clock(epoch) { return new Date(epoch * 1000).toLocaleTimeString(); }
  function shortId(id) { return id && id.length > 13 ? id.slice(0, 12) + "…" : id; }
  function rows(selector, items, columns, render) {
    const html = items.length ? items.map(render).join("")
      : `<tr class="empty"><td colspan="${columns}">nothing to show</td></tr>`;
    $(selector + " tbody").innerHTML = html;
  }

  function render(data) {
    rows("#queues", data.queues, 5, (q) =>
      `<tr data-queue="${esc(q.name)}"><td>${esc(q.name)}</td><td class="num">${q.ready}</td>` +
      `<td class="num">${q.delayed}</td><td class="num">${q.in_progress}</td><td class="num">${q.dead}</td></tr>`);
    rows("#workers", data.workers, 6, (w) =>
      `<tr data-worker="${esc(w.id)}"><td>${esc(w.host)}</td><td class="num">${w.pid}</td>` +
      `<td>${esc(w.queues.join(", "))}</td><td>${ago(w.heartbeat)}</td>` +
      `<td class="num">${w.done}</td><td class="num">${w.failed}</td></tr>`);
    $("#minutes").textContent = data.minutes;
    rows("#tasks", data.tasks, 8, (t) =>
      `<tr data-task="${esc(t.task)}"><td><code>${esc(t.task)}</code></td><td class="num">${t.per_minute}</td>` +
      `<td class="num">${t.states.SUCCESS || 0}</td><td class="num">${t.states.FAILURE || 0}</td>` +
      `<td class="num">${t.states.RETRY || 0}</td><td class="num">${dur(t.mean)}</td>` +
      `<td class="num">${dur(t.p50)}</td><td class="num">${dur(t.p95)}</td></tr>`);
    $("#task-names").innerHTML = data.tasks.map((t) => `<option value="${esc(t.task)}">`).join("");
    rows("#recent", data.recent, 7, (e) =>
      `<tr class="clickable" data-id="${esc(e.id)}"><td>${clock(e.finished)}</td><td><code>${esc(e.task)}</code></td>` +
      `<td><code>${esc(shortId(e.id))}</code></td><td class="state ${esc(e.state)}">${esc(e.state)}</td>` +
      `<td class="num">${dur(e.runtime)}</td><td class="num">${e.retries}</td><td>${esc(e.queue)}</td></tr>`);
    $("#dead-count").textContent = data.dead_letters.count;
    rows("#dead-letters", data.dead_letters.results, 7, (d) =>
      `<tr data-id="${esc(d.id)}"><td>${esc(when(d.failed_at))}</td><td><code>${esc(d.task)}</code></td>` +
      `<td class="clickable"><code>${esc(shortId(d.id))}</code></td><td>${esc(d.queue)}</td><td>${esc(d.reason)}</td>` +
      `<td>${esc(d.exception_repr)}</td><td><button type="button" class="requeue">Requeue</button> ` +
      `<button type="button" class="purge danger">Purge</button></td></tr>`);
    const s = data.scheduler;
    $("#leader").innerHTML = s.leader
      ? `leader <code>${esc(s.leader.token)}</code> (lease ${s.leader.ttl.toFixed(1)} s)`
      : s.available ? '<span class="error">no leader: no scheduler daemon holds the lease</span>'
        : '<span class="muted">scheduler not installed</span>';
    if (s.error) $("#leader").innerHTML += ` <span class="error">${esc(s.error)}</span>`;
    rows("#scheduler", s.entries, 5, (e) =>
      `<tr data-entry="${esc(e.name)}"><td>${esc(e.name)}</td><td><code>${esc(e.task)}</code></td>` +
      `<td>${esc(e.trigger)}</td><td>${esc(e.last_run || "never")}</td>` +
      `<td>${e.next_runs.map((t) => esc(new Date(t).toLocaleString())).join("<br>")}</td></tr>`);
  }

  async function refresh() {
    const params = new URLSearchParams();
    if (stateSelect.value) params.set("state", stateSelect.value);
    if (taskInput.value) params.set("task", taskInput.value);
    try {
      const response = await fetch(cfg.overviewUrl + "?" + params, { credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
      $("#status").textContent = "updated " + new Date().toLocaleTimeString();
      body.dataset.refreshed = String(Date.now());
    } catch (error) {
      $("#status").innerHTML = `<span class="error">refresh failed (${esc(error.message)}); retrying</span>`;
    }
  }

  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(payload || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
    return data;
  }

  async function deadLetterAction(label, run) {
    try {
      const done = await run();
      $("#dead-message").textContent = label + ": " + JSON.stringify(done);
    } catch (error) {
      $("#dead-message").innerHTML = `<span class="error">${esc(label)} failed: ${esc(error.message)}</span>`;
    }
    refresh();
  }

  function block(title, value) {
    if (value === null || value === undefined) return "";
    if (value.truncated === true && typeof value.preview === "string") {  // cut by the server (ops/previews.py)
      return `<h3>${esc(title)} <span class="muted">(cut: ${esc(value.chars)} characters in all; ` +
        `the API's ?full=1 has everything)</span></h3><pre>${esc(value.preview)}…</pre>`;
    }
    const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    return `<h3>${esc(title)}</h3><pre>${esc(text)}</pre>`;
  }

  async function showTask(id) {
    const response = await fetch(cfg.taskUrl.replace("TASK_ID", encodeURIComponent(id)), { credentials: "same-origin" });
    const t = await response.json();
    $("#detail-title").textContent = (t.task || "task") + " " + id;
    $("#detail-body").innerHTML = response.ok
      ? `<p>state <span class="state ${esc(t.state)}">${esc(t.state)}</span>, queue ${esc(t.queue)}, ` +
        `retries ${esc(t.retries)}${t.date_done ? ", done " + esc(t.date_done) : ""}</p>` +
        block("args", t.args) + block("kwargs", t.kwargs) +
        (t.state === "SUCCESS" ? block("result", t.result) : "") +
        (t.state !== "SUCCESS" && t.result && t.result.exc_type
          ? block("exception", t.result.exc_type + ": " + [].concat(t.result.exc_message).join(", ")) : "") +
        block("traceback", t.traceback) +
        (t.runs.length ? block("runs seen by workers", t.runs.map((r) =>
          `${new Date(r.finished * 1000).toLocaleString()}  ${r.state}  ${dur(r.runtime)}  ` +
          `retries=${r.retries}  worker=${r.worker}`).join("\n")) : "")
      : `<p class="error">${esc(t.error)}</p>`;
    $("#task-detail").showModal();
    $("#task-detail").scrollTop = 0;
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    const row = target.closest("tr[data-id]");
    if (target.matches("#dead-letters button.requeue")) {
      deadLetterAction("requeued", () => post(cfg.requeueUrl.replace("TASK_ID", encodeURIComponent(row.dataset.id))));
    } else if (target.matches("#dead-letters button.purge")) {
      if (confirm("Delete dead letter " + row.dataset.id + "?")) {
        deadLetterAction("purged", () => post(cfg.purgeUrl.replace("TASK_ID", encodeURIComponent(row.dataset.id))));
      }
    } else if (target.matches("#requeue-all")) {
      if (confirm("Requeue every dead letter (" + $("#dead-count").textContent + ")?")) {
        deadLetterAction("requeued", () => post(cfg.bulkUrl, { action: "requeue", all: true }));
      }
    } else if (target.matches("#purge-all")) {
      if (confirm("Delete every dead letter (" + $("#dead-count").textContent + ") for good?")) {
        deadLetterAction("purged", () => post(cfg.bulkUrl, { action: "purge", all: true }));
      }
    } else if (target.matches("#detail-close")) {
      $("#task-detail").close();
    } else if (row && (row.classList.contains("clickable") || target.closest("td.clickable"))) {
      showTask(row.dataset.id);
    }
  });
  stateSelect.addEventListener("change", refresh);
  taskInput.addEventListener("change", refresh);
  document.querySelectorAll("[data-epoch]").forEach((cell) => { cell.textContent = ago(Number(cell.dataset.epoch)); });
  refresh();
  setInterval(refresh, Number(cfg.pollSeconds || 3) * 1000);
})();
