"""The misfire policy: late runs within the grace are replayed each; older backlogs coalesce."""

from datetime import UTC, datetime, timedelta

from scheduler.misfire import MisfirePolicy, plan_runs

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)


def seconds_ago(*values):
    return [NOW - timedelta(seconds=v) for v in values]


def test_on_time_run_is_enqueued_without_a_note():
    plan = plan_runs(seconds_ago(0), NOW, MisfirePolicy())
    assert plan.runs == seconds_ago(0) and plan.note is None


def test_gap_within_grace_is_replayed_run_by_run():
    due = seconds_ago(4, 3, 2, 1, 0)
    plan = plan_runs(due, NOW, MisfirePolicy(grace=60))
    assert plan.runs == due
    assert "5 runs" in plan.note and "late" in plan.note


def test_downtime_coalesces_into_one_run_by_default():
    due = seconds_ago(600, 300, 30)
    plan = plan_runs(due, NOW, MisfirePolicy())
    assert plan.runs == seconds_ago(30)
    assert "coalesced into one run" in plan.note and "3 runs" in plan.note


def test_without_coalesce_stale_runs_are_skipped():
    due = seconds_ago(600, 300, 30)
    plan = plan_runs(due, NOW, MisfirePolicy(grace=60, coalesce=False))
    assert plan.runs == seconds_ago(30)
    assert "skipped" in plan.note


def test_no_grace_replays_everything():
    due = seconds_ago(86400, 3600)
    assert plan_runs(due, NOW, MisfirePolicy(grace=None, coalesce=False)).runs == due


def test_truncated_backlog_uses_the_latest_run():
    due = seconds_ago(90000, 89999)
    latest = NOW - timedelta(seconds=1)
    plan = plan_runs(due, NOW, MisfirePolicy(), more=True, latest=latest)
    assert plan.runs == [latest] and "2+ runs" in plan.note
