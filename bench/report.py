"""Summaries: medians with min-max over repeats, ratios pair by pair, the tables, targets and limits."""

from __future__ import annotations

import statistics
from typing import Any

#: (key, label, unit, which way is better)
METRICS: list[tuple[str, str, str, str]] = [
    ("public_enqueue_rate", "public: enqueue trivial delay(i)", "msg/s", "high"),
    ("public_enqueue_call_p50_us", "  per call p50", "us", "low"),
    ("public_drain_rate", "public: drain, results ignored", "msg/s", "high"),
    ("public_boot_drain_rate", "  timed from worker start (boot incl.)", "msg/s", "high"),
    ("public_r_enqueue_rate", "public: enqueue, results stored", "msg/s", "high"),
    ("public_r_drain_rate", "public: drain, results stored", "msg/s", "high"),
    ("public_worker_cpu_us", "worker CPU per trivial msg", "us", "low"),
    ("public_redis_cpu_us", "Redis CPU per trivial msg", "us", "low"),
    ("public_redis_cmd_us", "  of which command time", "us", "low"),
    ("public_rss_mb", "worker RSS after public drain", "MiB", "low"),
    ("enqueue_rate", "enqueue no-op (1 thread)", "msg/s", "high"),
    ("enqueue_call_p50_us", "  per call p50", "us", "low"),
    ("enqueue_call_p99_us", "  per call p99", "us", "low"),
    ("enqueue_cpu_us", "  client CPU per call", "us", "low"),
    ("drain_rate", "drain no-op (2p x 8t)", "msg/s", "high"),
    ("results_drain_rate", "drain no-op, results stored", "msg/s", "high"),
    ("p1k_enqueue_rate", "enqueue 1 KB payload", "msg/s", "high"),
    ("p1k_drain_rate", "drain 1 KB payload", "msg/s", "high"),
    ("p100k_enqueue_rate", "enqueue 100 KB payload", "msg/s", "high"),
    ("p100k_drain_rate", "drain 100 KB payload", "msg/s", "high"),
    ("retry_drain_rate", "retry-heavy (50% retry once)", "msg/s", "high"),
    ("idle_start_p50_ms", "idle: enqueue->start p50", "ms", "low"),
    ("idle_start_p99_ms", "idle: enqueue->start p99", "ms", "low"),
    ("idle_e2e_p50_ms", "idle: enqueue->get() p50", "ms", "low"),
    ("idle_e2e_p99_ms", "idle: enqueue->get() p99", "ms", "low"),
    ("get_wake_p50_ms", "get() wake after finish p50", "ms", "low"),
    ("get_wake_p99_ms", "get() wake after finish p99", "ms", "low"),
    ("load_start_p50_ms", "under load: enqueue->start p50", "ms", "low"),
    ("load_start_p99_ms", "under load: enqueue->start p99", "ms", "low"),
    ("chain5_p50_ms", "chain of 5, idle, p50", "ms", "low"),
    ("group_enqueue_ms", "group of 1,000: enqueue", "ms", "low"),
    ("delay_x_group_ms", "1,000 x delay()/send()", "ms", "low"),
    ("group_speedup", "  group enqueue speed-up", "x", "high"),
    ("group_complete_ms", "group of 1,000: done", "ms", "low"),
    ("group_small_ms", "group of 100: done", "ms", "low"),
    ("chord_ms", "chord of 100: body done", "ms", "low"),
    ("chord_over_group", "  chord / group of 100", "x", "low"),
    ("worker_rss_mb", "worker RSS after drain (all procs)", "MiB", "low"),
    ("redis_cmds_per_msg", "Redis commands per no-op msg", "cmds", "low"),
    ("enqueue_cmds_per_msg", "  of which enqueue", "cmds", "low"),
    ("stored_bytes_per_msg", "Redis bytes stored per queued msg", "B", "low"),
    ("wire_bytes_per_msg", "wire bytes per no-op msg", "B", "low"),
    ("p1k_wire_bytes_per_msg", "wire bytes per 1 KB msg", "B", "low"),
    ("idle_redis_calls_per_s", "idle worker Redis commands/s", "cmds/s", "low"),
    ("idle_polls_per_s", "  of which polls (EVALSHA/B*POP/XREADGROUP)", "calls/s", "low"),
]

STACK_ORDER = ["compat", "dramatiq", "dramatiq-confirms", "dramatiq-results", "huey", "taskiq", "celery"]
#: the stack every ratio is taken for (compat / each of the others)
SUBJECT = "compat"
#: today's compat figure for "under load p99 no worse than today" (issue 21): the 2026-11-28 full run
#: at 5bbb252 (bench/README.md); replace it with a quiet run's median before the optimisations land
LOAD_P99_TODAY_MS = 1.48


def spread(values: list[float]) -> dict[str, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


Metrics = list[tuple[str, str, str, str]]


def summarize(runs: list[dict[str, dict[str, Any]]], metrics: Metrics = METRICS) -> dict[str, Any]:
    """``runs[i][stack]`` is repeat i's figures for a stack; ratios are taken within each repeat."""
    stacks = [s for s in STACK_ORDER if any(s in run for run in runs)]
    summary: dict[str, Any] = {"stacks": {}, "ratios": {}}
    for key, *_ in metrics:
        summary["stacks"][key] = {s: spread([run[s].get(key) for run in runs if s in run]) for s in stacks}
        for other in stacks:
            if other != SUBJECT:
                summary["ratios"].setdefault(key, {})[other] = pair(runs, key, other, key)
    return summary


def pair(runs: list[dict[str, dict[str, Any]]], key: str, other: str, other_key: str) -> dict | None:
    """compat's ``key`` over ``other``'s ``other_key``, within each repeat, then their spread."""
    values = []
    for run in runs:
        mine, theirs = run.get(SUBJECT, {}).get(key), run.get(other, {}).get(other_key)
        if mine is not None and theirs:
            values.append(mine / theirs)
    return spread(values)


def _num(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(item: dict[str, float] | None, ratio: bool = False) -> str:
    if not item:
        return "-"
    suffix = "x" if ratio else ""
    text = _num(item["median"]) + suffix
    if item["n"] > 1:
        text += f" ({_num(item['min'])}-{_num(item['max'])})"
    return text


def _render(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + " |")
    return "\n".join(lines)


def _present(summary: dict[str, Any]) -> list[str]:
    keys = summary["stacks"]
    return [s for s in STACK_ORDER if any(keys[k].get(s) for k in keys)]


def table(summary: dict[str, Any], metrics: Metrics = METRICS) -> str:
    """Medians (min-max) per stack; "-" where a stack cannot run a workload as configured."""
    stacks = _present(summary)
    rows = [
        [label, unit, *(_cell(summary["stacks"][key].get(s)) for s in stacks)]
        for key, label, unit, _ in metrics
    ]
    return _render(["workload", "unit", *stacks], rows)


def ratio_table(summary: dict[str, Any], metrics: Metrics = METRICS) -> str:
    """compat / each other stack, taken within each repeat: median (min-max)."""
    others = [s for s in _present(summary) if s != SUBJECT]
    rows = [
        [label, better, *(_cell(summary["ratios"][key].get(o), True) for o in others)]
        for key, label, _, better in metrics
    ]
    return _render(["workload", "better", *(f"{SUBJECT}/{o}" for o in others)], rows)


def _median(summary: dict[str, Any], key: str, stack: str) -> float | None:
    item = summary["stacks"].get(key, {}).get(stack)
    return item["median"] if item else None


def _ratio(summary: dict[str, Any], key: str, other: str) -> float | None:
    item = summary["ratios"].get(key, {}).get(other)
    return item["median"] if item else None


def _checks(runs: list[dict[str, dict[str, Any]]], summary: dict[str, Any]) -> list[tuple]:
    """(issue, target, spread or median, op, limit, unit): ratios are compat/other within each repeat."""

    def vs(key: str, other: str, other_key: str | None = None) -> dict | None:
        return pair(runs, key, other, other_key or key)

    def mine(key: str) -> dict | None:
        return summary["stacks"].get(key, {}).get(SUBJECT)

    stored, ignored = "public_r_drain_rate", "public_drain_rate"
    return [
        ("#21", "drain, results ignored >= 1.2x stock Dramatiq", vs(ignored, "dramatiq"), ">=", 1.2, "x"),
        ("#21", "drain, results ignored >= 1.1x Huey", vs(ignored, "huey"), ">=", 1.1, "x"),
        ("#21", "drain, results ignored >= 1.1x taskiq", vs(ignored, "taskiq"), ">=", 1.1, "x"),
        (
            "#21",
            "drain, results stored >= 1.0x stock Dramatiq (which stores none)",
            vs(stored, "dramatiq", ignored),
            ">=",
            1.0,
            "x",
        ),
        ("#21", "enqueue >= 1.1x Huey", vs("public_enqueue_rate", "huey"), ">=", 1.1, "x"),
        ("#21", "enqueue >= 1.2x stock Dramatiq", vs("public_enqueue_rate", "dramatiq"), ">=", 1.2, "x"),
        ("#21", "drain >= 4x Celery (results ignored)", vs(ignored, "celery"), ">=", 4.0, "x"),
        ("#21", "enqueue >= 4x Celery", vs("public_enqueue_rate", "celery"), ">=", 4.0, "x"),
        ("#21", "idle enqueue->start p50 <= 2 ms", mine("idle_start_p50_ms"), "<=", 2.0, "ms"),
        (
            "#21",
            f"under-load enqueue->start p99 no worse than today ({LOAD_P99_TODAY_MS} ms)",
            mine("load_start_p99_ms"),
            "<=",
            LOAD_P99_TODAY_MS,
            "ms",
        ),
        ("#21", "get() wake after finish p50 <= 1 ms", mine("get_wake_p50_ms"), "<=", 1.0, "ms"),
        ("#21", "worker RSS <= stock Dramatiq's", vs("public_rss_mb", "dramatiq"), "<=", 1.0, "x"),
        (
            "#4/#21",
            "group of 1,000 enqueue >= 5x faster than 1,000 delay()",
            mine("group_speedup"),
            ">=",
            5.0,
            "x",
        ),
        ("#4", "chain of 5 p50 <= 20 ms on an idle worker", mine("chain5_p50_ms"), "<=", 20.0, "ms"),
        ("#4", "chord of 100 <= 1.2x group of 100", mine("chord_over_group"), "<=", 1.2, "x"),
        (
            "#3",
            "delay() per-call p50 within 10% of Dramatiq+Results send()",
            vs("enqueue_call_p50_us", "dramatiq-results"),
            "<=",
            1.10,
            "x",
        ),
        (
            "#3",
            "idle Redis calls/s <= stock Dramatiq",
            vs("idle_redis_calls_per_s", "dramatiq"),
            "<=",
            1.0,
            "x",
        ),
    ]


def targets(
    runs: list[dict[str, dict[str, Any]]], summary: dict[str, Any], checks: Any = None
) -> list[dict[str, Any]]:
    """Issue 21's targets (and the earlier issues' that still hold), each with its value and verdict;
    ``checks(runs, summary)`` gives another list of them (the RabbitMQ run's, ``bench.rabbitmq``)."""
    out = []
    for issue, text, item, op, limit, unit in (checks or _checks)(runs, summary):
        value = item["median"] if item else None
        if value is None:
            verdict = "n/a"
        else:
            verdict = "PASS" if (value <= limit if op == "<=" else value >= limit) else "MISS"
        out.append(
            {
                "issue": issue,
                "target": text,
                "value": value,
                "min": item["min"] if item else None,
                "max": item["max"] if item else None,
                "op": op,
                "limit": limit,
                "unit": unit,
                "verdict": verdict,
            }
        )
    return out


def targets_text(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        value = "-" if row["value"] is None else f"{row['value']:.2f}{row['unit']}"
        if row["value"] is not None and row["min"] != row["max"]:
            value += f" ({row['min']:.2f}-{row['max']:.2f})"
        lines.append(
            f"  [{row['verdict']:4}] {row['issue']:7} {row['target']}: {value} "
            f"(target {row['op']} {row['limit']:g}{row['unit']})"
        )
    return "\n".join(lines)


def limits(summary: dict[str, Any], cores: int) -> list[dict[str, Any]]:
    """The ceiling each stack's own costs imply for the public drain on this machine.

    Per trivial message, W us of worker CPU and R us of Redis CPU: with every core busy on this stack the
    drain could reach cores / (W + R) per second, and never more than 1 / R (Redis runs commands on one
    thread). The measured drain over that ceiling says how much of the gap is waiting, not work.
    """
    out = []
    for stack in _present(summary):
        worker = _median(summary, "public_worker_cpu_us", stack)
        redis_cpu = _median(summary, "public_redis_cpu_us", stack)
        drain = _median(summary, "public_drain_rate", stack)
        if not worker or not redis_cpu or not drain:
            continue
        ceiling = min(cores * 1e6 / (worker + redis_cpu), 1e6 / redis_cpu)
        out.append(
            {
                "stack": stack,
                "worker_cpu_us": worker,
                "redis_cpu_us": redis_cpu,
                "redis_cmd_us": _median(summary, "public_redis_cmd_us", stack),
                "ceiling": ceiling,
                "redis_only_ceiling": 1e6 / redis_cpu,
                "drain": drain,
                "of_ceiling": drain / ceiling,
            }
        )
    return out


def limits_text(rows: list[dict[str, Any]], cores: int) -> str:
    headers = [
        "stack",
        "worker CPU us/msg",
        "Redis CPU us/msg",
        "Redis cmd us/msg",
        f"ceiling ({cores} cores) msg/s",
        "Redis-only ceiling",
        "drain msg/s",
        "of ceiling",
    ]
    body = [
        [
            row["stack"],
            _num(row["worker_cpu_us"]),
            _num(row["redis_cpu_us"]),
            _num(row["redis_cmd_us"]) if row["redis_cmd_us"] is not None else "-",
            _num(row["ceiling"]),
            _num(row["redis_only_ceiling"]),
            _num(row["drain"]),
            f"{row['of_ceiling'] * 100:.0f}%",
        ]
        for row in rows
    ]
    return _render(headers, body)
