// A task's detail dialog: what the result store and the index know, its canvas drawn as a graph
// (SVG, one column per step, each node coloured by its state; a click opens that node), and the
// revoke / terminate / retry actions.
(function () {
  "use strict";
  const D = window.OpsDash;
  const { $, esc, dur, cfg } = D;
  const SVG = "http://www.w3.org/2000/svg";
  let current = null;

  function block(title, value) {
    if (value === null || value === undefined) return "";
    if (value.truncated === true && typeof value.preview === "string") {  // cut by the server (ops/previews.py)
      return `<h3>${esc(title)} <span class="muted">(cut: ${esc(value.chars)} characters in all; ` +
        `the API's ?full=1 has everything)</span></h3><pre>${esc(value.preview)}…</pre>`;
    }
    const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    return `<h3>${esc(title)}</h3><pre>${esc(text)}</pre>`;
  }
  function link(id) {
    return id ? `<a href="#" class="task-link" data-id="${esc(id)}"><code>${esc(id)}</code></a>` : "–";
  }

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Layered layout: a column per depth, the nodes of a column stacked.
  function drawGraph(g, selected) {
    const holder = $("#detail-graph");
    holder.textContent = "";
    if (!g.nodes.length || (g.nodes.length === 1 && !g.edges.length)) return;
    const W = 150, H = 46, GX = 28, GY = 14;
    const columns = {};
    for (const node of g.nodes) (columns[node.depth] = columns[node.depth] || []).push(node);
    const place = {};
    let rowsMax = 1;
    for (const [depth, nodes] of Object.entries(columns)) {
      rowsMax = Math.max(rowsMax, nodes.length);
      nodes.forEach((node, i) => { place[node.id] = { x: 10 + depth * (W + GX), y: 10 + i * (H + GY) }; });
    }
    const depths = Object.keys(columns).length;
    const svg = el("svg", { width: 20 + depths * (W + GX), height: 20 + rowsMax * (H + GY), class: "graph",
      role: "img", "aria-label": "canvas graph" });
    const defs = el("defs", {});
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7",
      markerHeight: "7", orient: "auto-start-reverse" });
    marker.appendChild(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    for (const [from, to] of g.edges) {
      const a = place[from], b = place[to];
      svg.appendChild(el("path", { class: "edge", "marker-end": "url(#arrow)",
        d: `M ${a.x + W} ${a.y + H / 2} C ${a.x + W + GX / 2} ${a.y + H / 2}, ${b.x - GX / 2} ${b.y + H / 2}, ${b.x} ${b.y + H / 2}` }));
    }
    for (const node of g.nodes) {
      const p = place[node.id];
      const group = el("g", {
        class: `node ${node.state}${node.ran ? "" : " notrun"}${node.id === selected ? " selected" : ""}`,
        "data-id": node.id, "data-state": node.state, "data-ran": String(node.ran), transform: `translate(${p.x},${p.y})` });
      group.appendChild(el("rect", { width: W, height: H, rx: 6 }));
      group.appendChild(el("text", { x: 8, y: 18, class: "name" }, String(node.task || "?").split(".").pop().slice(0, 21)));
      group.appendChild(el("text", { x: 8, y: 36, class: "node-state" }, node.ran ? node.state : node.state + " (not run)"));
      group.appendChild(el("title", {}, `${node.task} ${node.id} ${node.state}`));
      svg.appendChild(group);
    }
    holder.appendChild(svg);
  }

  async function showTask(id) {
    current = id;
    const [response, graphResponse] = await Promise.all([
      fetch(D.url(cfg.taskUrl, { TASK_ID: id }), { credentials: "same-origin" }),
      fetch(D.url(cfg.graphUrl, { TASK_ID: id }), { credentials: "same-origin" }),
    ]);
    const t = await response.json();
    $("#detail-title").textContent = (t.task || "task") + " " + id;
    $("#action-message").textContent = "";
    $("#action-retry").disabled = t.state !== "FAILURE";
    $("#detail-body").innerHTML = response.ok
      ? `<p>state <span class="state ${esc(t.state)}">${esc(t.state)}</span>, queue ${esc(t.queue)}, ` +
        `retries ${esc(t.retries)}, worker ${esc(t.worker || "–")}${t.date_done ? ", done " + esc(t.date_done) : ""}</p>` +
        `<p>parent ${link(t.parent)}, root ${link(t.root)}, children ${t.children.length ? t.children.map(link).join(" ") : "none"}</p>` +
        block("args", t.args) + block("kwargs", t.kwargs) +
        (t.state === "SUCCESS" ? block("result", t.result) : "") +
        (t.state !== "SUCCESS" && t.result && t.result.exc_type
          ? block("exception", t.result.exc_type + ": " + [].concat(t.result.exc_message).join(", ")) : "") +
        block("traceback", t.traceback) +
        (t.timings.length ? block("runs seen by workers", t.runs.map((r) =>
          `${new Date(r.finished * 1000).toLocaleString()}  ${r.state}  ${dur(r.runtime)}  ` +
          `retries=${r.retries}  worker=${r.worker}`).join("\n")) : "")
      : `<p class="error">${esc(t.error)}</p><p class="muted">Nothing is recorded for it yet: it may be waiting ` +
        `or running (states are written when a task finishes). Revoking it still works.</p>`;
    $("#detail-graph").textContent = "";
    if (graphResponse.ok) drawGraph(await graphResponse.json(), id);
    if (!$("#task-detail").open) $("#task-detail").showModal();
    $("#task-detail").scrollTop = 0;
    document.body.dataset.detail = id;
  }

  document.addEventListener("click", async (event) => {
    const target = event.target;
    const node = target.closest("#detail-graph g.node");
    if (node) { showTask(node.dataset.id); return; }
    if (target.matches("#detail-close")) { $("#task-detail").close(); return; }
    if (!current) return;
    let done = null;
    if (target.matches("#action-revoke")) {
      done = await D.act(`Revoke task ${current}? No worker will start it.`, D.url(cfg.revokeUrl, { TASK_ID: current }),
        { terminate: false }, "#action-message");
    } else if (target.matches("#action-terminate")) {
      done = await D.act(`Revoke task ${current} and terminate it if it is running?`,
        D.url(cfg.revokeUrl, { TASK_ID: current }), { terminate: true }, "#action-message");
    } else if (target.matches("#action-retry")) {
      done = await D.act(`Run failed task ${current} again?`, D.url(cfg.retryUrl, { TASK_ID: current }), {},
        "#action-message");
    }
    if (done) document.body.dataset.acted = target.id;
  });

  window.OpsDash.showTask = showTask;
})();
