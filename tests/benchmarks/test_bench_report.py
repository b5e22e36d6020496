"""The bench's arithmetic: ratios pair by pair within a repeat, PASS/MISS verdicts, the limit ceiling."""

from __future__ import annotations

import pytest

from bench import report


def _runs():
    # repeat 0 is a slow moment for everyone, repeat 1 a fast one: ratios must pair within a repeat
    return [
        {
            "compat": {"public_drain_rate": 1200.0, "public_r_drain_rate": 900.0},
            "dramatiq": {"public_drain_rate": 1000.0},
            "huey": {"public_drain_rate": 1500.0},
        },
        {
            "compat": {"public_drain_rate": 3000.0, "public_r_drain_rate": 2800.0},
            "dramatiq": {"public_drain_rate": 2000.0},
            "huey": {"public_drain_rate": 2500.0},
        },
        {
            "compat": {"public_drain_rate": 2600.0, "public_r_drain_rate": 2000.0},
            "dramatiq": {"public_drain_rate": 2000.0},
        },
    ]


def test_ratios_are_taken_within_each_repeat_then_summarized():
    summary = report.summarize(_runs())
    ratio = summary["ratios"]["public_drain_rate"]["dramatiq"]
    assert ratio == {"median": 1.3, "min": 1.2, "max": 1.5, "n": 3}
    # huey ran in repeats 0 and 1 only: 0.8x and 1.2x there (median 1.0x), where the ratio of the
    # medians over all repeats would say 2600 / 2000 = 1.3x
    assert summary["ratios"]["public_drain_rate"]["huey"]["median"] == pytest.approx(1.0)
    assert summary["stacks"]["public_drain_rate"]["huey"]["n"] == 2


def test_targets_pair_across_workloads_and_say_pass_miss_or_n_a():
    runs = _runs()
    rows = {row["target"]: row for row in report.targets(runs, report.summarize(runs))}
    ignored = rows["drain, results ignored >= 1.2x stock Dramatiq"]
    assert (ignored["value"], ignored["verdict"]) == (1.3, "PASS")
    # results stored on compat against stock Dramatiq's results-ignored drain: 0.9x, 1.4x, 1.0x
    stored = rows["drain, results stored >= 1.0x stock Dramatiq (which stores none)"]
    assert stored["value"] == pytest.approx(1.0) and stored["verdict"] == "PASS"
    assert (stored["min"], stored["max"]) == (pytest.approx(0.9), pytest.approx(1.4))
    assert rows["drain, results ignored >= 1.1x Huey"]["verdict"] == "MISS"  # 1.0x
    assert rows["drain, results ignored >= 1.1x taskiq"]["verdict"] == "n/a"  # taskiq did not run
    text = report.targets_text(list(rows.values()))
    assert "[PASS] #21     drain, results ignored >= 1.2x stock Dramatiq: 1.30x (1.20-1.50)" in text


def test_limit_is_the_cores_over_the_cpu_a_message_costs():
    def costs(worker, redis_cpu, drain):
        return {"public_worker_cpu_us": worker, "public_redis_cpu_us": redis_cpu, "public_drain_rate": drain}

    runs = [{"compat": costs(300.0, 100.0, 2500.0), "dramatiq": costs(900.0, 400.0, 1000.0)}]
    rows = {row["stack"]: row for row in report.limits(report.summarize(runs), cores=2)}
    assert rows["compat"]["ceiling"] == pytest.approx(5000.0)  # 2 cores / 400 us
    assert rows["compat"]["of_ceiling"] == pytest.approx(0.5)
    # 2 cores / 1,300 us = 1,538/s, below Redis's own 1 / 400 us = 2,500/s
    assert rows["dramatiq"]["ceiling"] == pytest.approx(2e6 / 1300)
    assert rows["dramatiq"]["redis_only_ceiling"] == pytest.approx(2500.0)
    one_core = {row["stack"]: row for row in report.limits(report.summarize(runs), cores=64)}
    assert one_core["compat"]["ceiling"] == pytest.approx(10_000.0)  # Redis's single thread caps it
