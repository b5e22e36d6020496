"""Finding a task and seeing it whole: the search API, a task's detail, its canvas as a graph.

Search reads the recorder's index (``compat.search``: bounded by its cap, whatever the query); the
detail and graph add what the result store still keeps (records expire after ``result_expires``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from compat import monitoring
from compat.app import get_current_app
from compat.search import Query, family, search

from .api import ApiError, endpoint
from .previews import trimmed, wants_full
from .schedule import periodic_tasks

#: A graph draws at most this many nodes (a 10,000-member group is summarized, not drawn).
GRAPH_NODES = 200


def _epoch(value: str | None, name: str) -> float | None:
    """Epoch seconds from a number or an ISO 8601 time; ``ApiError`` 400 for anything else."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise ApiError(400, f"{name} must be epoch seconds or an ISO 8601 time, not {value!r}") from None


def _int(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        return min(high, max(low, int(raw)))
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None


def query_from(request: HttpRequest, app: Any) -> Query:
    """The search asked: ``id``, ``name``, ``state``, ``since``, ``until``, ``args``, ``hide_periodic``."""
    get = request.GET
    hide = get.get("hide_periodic") in ("1", "true", "on")
    return Query(
        task_id=get.get("id") or None,
        name=get.get("name") or get.get("task") or None,
        state=get.get("state") or None,
        since=_epoch(get.get("since"), "since"),
        until=_epoch(get.get("until"), "until"),
        args=get.get("args") or None,
        exclude=frozenset(periodic_tasks(app)) if hide else frozenset(),
    )


def page_of(request: HttpRequest, app: Any, default_limit: int = 50) -> dict[str, Any]:
    """One page of matching executions, with the query's offset and limit."""
    offset = _int(request, "offset", 0, 0, 100_000)
    limit = _int(request, "limit", default_limit, 1, 500)
    found = search(app, query_from(request, app), offset, limit)
    found["results"] = [trimmed(event) for event in found["results"]]
    return found


@endpoint("GET")
def api_search(request: HttpRequest) -> dict:
    """``GET ?id=&name=&state=&since=&until=&args=&hide_periodic=1&offset=&limit=``: executions, newest first.

    Also looks ``id`` up in the result store, so a task the index no longer holds is still found.
    """
    app = get_current_app()
    found = page_of(request, app)
    task_id = request.GET.get("id")
    found["task"] = None
    if task_id:
        detail = monitoring.task_detail(app, task_id)
        found["task"] = (
            None
            if detail is None
            else {"id": task_id, "state": detail.get("state"), "task": detail.get("task")}
        )
    return found


def detail(app: Any, task_id: str) -> dict[str, Any] | None:
    """``compat.monitoring.task_detail`` plus worker, timings, parent, root and children."""
    found = monitoring.task_detail(app, task_id)
    if found is None:
        return None
    runs = found.get("runs") or []
    latest = runs[0] if runs else {}
    members = family(app, task_id)
    found["worker"] = latest.get("worker")
    found["parent"] = latest.get("parent")
    found["root"] = latest.get("root") or task_id
    found["group"] = latest.get("group")
    found["timings"] = [
        {"finished": run.get("finished"), "runtime": run.get("runtime"), "state": run.get("state")}
        for run in runs
    ]
    children = {event["id"] for event in members if event.get("parent") == task_id}
    for child in found.get("children") or []:  # the result store's own children, when it kept them
        if isinstance(child, list | tuple) and child and isinstance(child[0], list | tuple):
            children.add(child[0][0])
    found["children"] = sorted(children)
    return found


#: Celery's names for what ``query_task`` finds, as task states.
HELD_STATES = {"active": "STARTED", "reserved": "RECEIVED", "scheduled": "RECEIVED"}


def held_by_worker(app: Any, task_id: str) -> dict[str, Any] | None:
    """A task nothing recorded yet that a live worker runs or holds (``inspect().query_task``), or None.

    States are written when a task finishes (``STARTED`` only with ``track_started``), so a running task
    is only known to its worker; this costs one control round trip, on this (rare) path only.
    """
    replies = app.control.inspect(timeout=1.0).query_task(task_id) or {}
    for node, found in replies.items():
        if isinstance(found, dict) and task_id in found:
            held, info = found[task_id]
            return {
                "id": task_id,
                "state": HELD_STATES.get(held, "RECEIVED"),
                "task": info.get("name"),
                "args": info.get("args"),
                "kwargs": info.get("kwargs"),
                "queue": (info.get("delivery_info") or {}).get("routing_key"),
                "worker": node,
                "started": info.get("time_start"),
                "retries": None,
                "runs": [],
                "timings": [],
                "children": [],
                "parent": None,
                "root": task_id,
            }
    return None


@endpoint("GET")
def api_task(request: HttpRequest, task_id: str) -> dict:
    """One task: state, args, kwargs, result or traceback, runs, worker, lineage (``?full=1``: uncut).

    A task nothing has recorded yet is asked of the live workers (running or prefetched); 404 if none
    holds it.
    """
    app = get_current_app()
    found = detail(app, task_id) or held_by_worker(app, task_id)
    if found is None:
        raise ApiError(404, f"no task with id {task_id}")
    if wants_full(request):
        return found
    if "dead_letter" in found:
        found["dead_letter"] = trimmed(found["dead_letter"])
    return trimmed(found)


def graph(app: Any, task_id: str) -> dict[str, Any]:
    """``task_id``'s canvas: ``{nodes: [{id, task, state, ran, depth}], edges: [[a, b]], root, truncated}``.

    Nodes are the executions indexed for its root or group, the chain steps and chord body still to
    come (their state from the result store: a failed step marks what follows FAILURE, as Celery does;
    never stored: PENDING; ``ran`` tells the step that failed from those marked after it), and their
    edges: parent -> child, chain order, group members -> chord body.
    """
    members = family(app, task_id)
    nodes: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str]] = set()

    def node(node_id: str | None, task: str | None, state: str | None = None) -> None:
        if node_id and node_id not in nodes and len(nodes) < GRAPH_NODES:
            nodes[node_id] = {"id": node_id, "task": task, "state": state, "ran": False}
        elif node_id in nodes and task and not nodes[node_id]["task"]:
            nodes[node_id]["task"] = task

    for event in reversed(members):  # oldest first: the final run of a retried task wins
        node(event["id"], event.get("task"))
        if event["id"] in nodes:
            nodes[event["id"]].update(state=event.get("state"), ran=True)
    for event in members:
        if event.get("parent") and event["parent"] in nodes:
            edges.add((event["parent"], event["id"]))
        previous = event["id"]
        for step in event.get("chain") or ():
            node(step.get("id"), step.get("task"))
            if step.get("id"):
                edges.add((previous, step["id"]))
                previous = step["id"]
        body = event.get("chord")
        if body and body.get("id"):
            node(body["id"], body.get("task"))
            edges.add((event["id"], body["id"]))
    node(task_id, None)
    ids = list(nodes)
    metas = app.backend.get_many(ids) if app.backend.enabled and ids else [None] * len(ids)
    for node_id, meta in zip(ids, metas, strict=True):
        if meta is not None:
            nodes[node_id]["state"] = meta.get("status")
            nodes[node_id]["task"] = nodes[node_id]["task"] or meta.get("name")
        nodes[node_id]["state"] = nodes[node_id]["state"] or "PENDING"
    edges = {(a, b) for a, b in edges if a in nodes and b in nodes}
    depth = _depths(ids, edges)
    for node_id in ids:
        nodes[node_id]["depth"] = depth[node_id]
    roots = [node_id for node_id in ids if depth[node_id] == 0]
    return {
        "nodes": list(nodes.values()),
        "edges": sorted(edges),
        "root": roots[0] if roots else task_id,
        "truncated": len(nodes) >= GRAPH_NODES,
    }


def _depths(ids: list[str], edges: set[tuple[str, str]]) -> dict[str, int]:
    """Longest distance from a node without parents (a layered layout's column); cycles are cut."""
    parents: dict[str, list[str]] = {node_id: [] for node_id in ids}
    for a, b in edges:
        parents[b].append(a)
    depth: dict[str, int] = {}

    def walk(node_id: str, seen: frozenset[str]) -> int:
        if node_id not in depth:
            ups = [p for p in parents[node_id] if p not in seen]
            depth[node_id] = 1 + max((walk(p, seen | {node_id}) for p in ups), default=-1)
        return depth[node_id]

    for node_id in ids:
        walk(node_id, frozenset())
    return depth


@endpoint("GET")
def api_graph(request: HttpRequest, task_id: str) -> dict:
    """``GET``: the canvas ``task_id`` belongs to, as nodes with their state and edges."""
    return graph(get_current_app(), task_id)
