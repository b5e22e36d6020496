"""``python -m bench --broker rabbitmq --quick`` end to end: compat, stock Dramatiq (with and without
confirms) and Celery on the machine's RabbitMQ, results on the bench's private Redis.

A smoke check of the harness, not a measurement: every row of the RabbitMQ table is printed with a
figure for the stacks that can run it, every target gets a verdict, and the vhosts the run made are gone
afterwards. No figure is compared with another.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import rabbitmq
from tests.rabbitmq_support import SharedNode, node


def _bench_vhosts() -> set[str]:
    return {line for line in rabbitmq.ctl("list_vhosts", "--quiet").split() if line.startswith("bench-")}


@pytest.mark.timeout(900)
def test_the_rabbitmq_run_prints_every_row_and_target(tmp_path):
    if not isinstance(node(tmp_path), SharedNode):
        pytest.skip("the RabbitMQ bench makes its vhosts with the machine's rabbitmqctl")
    before = _bench_vhosts()
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--broker", "rabbitmq", "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    document = json.loads(out.read_text())
    assert document["broker"] == "rabbitmq"
    run = document["runs"][0]
    assert set(run) == set(rabbitmq.STACKS)
    for stack, figures in run.items():
        assert figures["_errors"] == {}, (stack, figures["_errors"])
        assert figures["_broker"] == "rabbitmq", stack  # as built in its client, whatever the env says
        assert "public_extra_runs" not in figures, stack  # each trivial task ran once
        assert not rabbitmq.REDIS_READINGS & set(figures), stack  # no Redis-broker readings on RabbitMQ
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| workload") and "| unit" in line)
    end = lines.index("", start)
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[start:end]]
    assert header == ["workload", "unit", *rabbitmq.STACKS]
    rows = rows[1:]  # the |---| line
    assert [row[0] for row in rows] == [label.strip() for _, label, _, _ in rabbitmq.METRICS]
    for (key, label, _, _), row in zip(rabbitmq.METRICS, rows, strict=True):
        compat, dramatiq = row[2], row[3]
        assert compat != "-", f"compat has no figure for {label!r}"
        # stock Dramatiq has no result backend: it cannot read a result back (idle latency)
        assert (dramatiq == "-") == key.startswith("idle_"), (label, dramatiq)
    verdicts = {row["target"]: row["verdict"] for row in document["targets"]}
    assert len(verdicts) == 5 and set(verdicts.values()) <= {"PASS", "MISS"}, verdicts
    assert "idle enqueue->start p50 <= 5 ms" in verdicts
    assert "NOT FOR PUBLISHING" in proc.stdout
    assert "RabbitMQ" in lines[0]
    assert _bench_vhosts() <= before  # every vhost the run made was deleted
