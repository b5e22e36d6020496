"""Summaries: medians with min-max over repeats, ratios pair by pair, the table and the targets."""

from __future__ import annotations

import statistics
from typing import Any

#: (key, label, unit, which way is better)
METRICS: list[tuple[str, str, str, str]] = [
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
    ("idle_polls_per_s", "  of which polls (EVALSHA/BLPOP/BRPOP)", "calls/s", "low"),
]

STACK_ORDER = ["compat", "dramatiq", "celery"]


def spread(values: list[float]) -> dict[str, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize(runs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """``runs[i][stack]`` is repeat i's figures for a stack; ratios are taken within each repeat."""
    stacks = [s for s in STACK_ORDER if any(s in run for run in runs)]
    summary: dict[str, Any] = {"stacks": {}, "ratios": {}}
    for key, *_ in METRICS:
        summary["stacks"][key] = {s: spread([run[s].get(key) for run in runs if s in run]) for s in stacks}
        for other in ("dramatiq", "celery"):
            pairs = [
                run["compat"][key] / run[other][key]
                for run in runs
                if "compat" in run
                and other in run
                and run["compat"].get(key) is not None
                and run[other].get(key)
            ]
            summary["ratios"].setdefault(key, {})[other] = spread(pairs)
    return summary


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


def table(summary: dict[str, Any]) -> str:
    stacks = [s for s in STACK_ORDER if any(summary["stacks"][k].get(s) for k, *_ in METRICS)]
    headers = ["workload", "unit", *stacks, "compat/dramatiq", "compat/celery"]
    rows = []
    for key, label, unit, _ in METRICS:
        cells = summary["stacks"][key]
        ratios = summary["ratios"][key]
        rows.append(
            [
                label,
                unit,
                *(_cell(cells.get(s)) for s in stacks),
                _cell(ratios.get("dramatiq"), True),
                _cell(ratios.get("celery"), True),
            ]
        )
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + " |")
    return "\n".join(lines)


def _median(summary: dict[str, Any], key: str, stack: str) -> float | None:
    item = summary["stacks"].get(key, {}).get(stack)
    return item["median"] if item else None


def _ratio(summary: dict[str, Any], key: str, other: str) -> float | None:
    item = summary["ratios"].get(key, {}).get(other)
    return item["median"] if item else None


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue-3, issue-4 and issue-10 targets, each with its measured value and verdict."""
    m, r = _median, _ratio
    checks = [
        (
            "#3",
            "delay() per-call p50 within 10% of raw send()",
            r(summary, "enqueue_call_p50_us", "dramatiq"),
            "<=",
            1.10,
            "x",
        ),
        (
            "#3/#10",
            "enqueue rate >= 0.9x raw Dramatiq",
            r(summary, "enqueue_rate", "dramatiq"),
            ">=",
            0.90,
            "x",
        ),
        ("#3/#10", "drain rate >= 0.9x raw Dramatiq", r(summary, "drain_rate", "dramatiq"), ">=", 0.90, "x"),
        ("#10", "enqueue rate >= 4x Celery", r(summary, "enqueue_rate", "celery"), ">=", 4.0, "x"),
        ("#10", "drain rate >= 4x Celery", r(summary, "drain_rate", "celery"), ">=", 4.0, "x"),
        (
            "#3",
            "get() returns within 2 ms of completion (p50)",
            m(summary, "get_wake_p50_ms", "compat"),
            "<=",
            2.0,
            "ms",
        ),
        (
            "#3",
            "idle worker start latency p50 <= 10 ms",
            m(summary, "idle_start_p50_ms", "compat"),
            "<=",
            10.0,
            "ms",
        ),
        (
            "#3",
            "idle Redis calls/s <= stock Dramatiq",
            r(summary, "idle_redis_calls_per_s", "dramatiq"),
            "<=",
            1.0,
            "x",
        ),
        (
            "#4",
            "group of 1,000 enqueue >= 5x faster than 1,000 delay()",
            m(summary, "group_speedup", "compat"),
            ">=",
            5.0,
            "x",
        ),
        (
            "#4",
            "chain of 5 p50 <= 20 ms on an idle worker",
            m(summary, "chain5_p50_ms", "compat"),
            "<=",
            20.0,
            "ms",
        ),
        ("#4", "chord of 100 <= 1.2x group of 100", m(summary, "chord_over_group", "compat"), "<=", 1.2, "x"),
    ]
    out = []
    for issue, text, value, op, limit, unit in checks:
        if value is None:
            verdict = "n/a"
        else:
            verdict = "PASS" if (value <= limit if op == "<=" else value >= limit) else "MISS"
        out.append(
            {
                "issue": issue,
                "target": text,
                "value": value,
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
        lines.append(
            f"  [{row['verdict']:4}] {row['issue']:7} {row['target']}: {value} "
            f"(target {row['op']} {row['limit']:g}{row['unit']})"
        )
    return "\n".join(lines)
