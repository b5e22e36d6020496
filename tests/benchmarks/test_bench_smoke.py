"""``python -m bench`` end to end on the public method: real workers of every stack on a private Redis.

Only the public method's two drains run (``--phases``), with ``--quick`` counts, so this stays a smoke
check of the harness (each stack boots, drains, is counted without Redis, and is stopped) rather than
a measurement; figures are never asserted on, only that they were taken.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

STACKS = ["compat", "dramatiq", "huey", "taskiq"]


@pytest.mark.timeout(600)
def test_public_method_runs_on_every_peer(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--phases", "public,public_results"]
        + ["--stacks", ",".join(STACKS), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    document = json.loads(out.read_text())
    run = document["runs"][0]
    assert set(run) == set(STACKS)
    for stack in STACKS:
        figures = run[stack]
        assert figures["_errors"] == {}, (stack, figures["_errors"])
        # every one of the 2,000 trivial tasks ran exactly once, counted from the workers' mark files
        assert "public_extra_runs" not in figures, stack
        assert figures["public_drain_rate"] > 0 and figures["public_enqueue_rate"] > 0, stack
        assert figures["public_worker_cpu_us"] > 0 and figures["public_redis_cpu_us"] > 0, stack
    # results stored: compat stores them; stock Dramatiq and taskiq (no result backend) cannot
    assert run["compat"]["public_r_drain_rate"] > 0
    assert run["huey"]["public_r_drain_rate"] > 0
    assert "public_r_drain_rate" not in run["dramatiq"] and "public_r_drain_rate" not in run["taskiq"]
    verdicts = {row["target"]: row["verdict"] for row in document["targets"]}
    assert verdicts["drain, results ignored >= 1.2x stock Dramatiq"] in ("PASS", "MISS")
    assert verdicts["drain, results ignored >= 1.1x taskiq"] in ("PASS", "MISS")
    assert verdicts["drain >= 4x Celery (results ignored)"] == "n/a"  # Celery was not run
    assert {row["stack"] for row in document["limits"]} == set(STACKS)
    assert "[PASS]" in proc.stdout or "[MISS]" in proc.stdout
    assert "NOT FOR PUBLISHING" in proc.stdout
