"""The Grafana dashboard in ops/grafana/ queries only metrics that /metrics really serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from prometheus_client.parser import text_string_to_metric_families

import ops

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls")]
DASHBOARD = Path(ops.__file__).parent / "grafana" / "compat-dashboard.json"
#: PromQL functions and aggregations the dashboard uses (anything else in an expression is a metric name).
PROMQL_WORDS = {"sum", "rate", "max", "histogram_quantile", "time"}


def queried_metrics() -> set[str]:
    board = json.loads(DASHBOARD.read_text())
    names = set()
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            # label selectors, strings, ranges and "by (labels)" groupings are not metric names
            expr = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]|\bby\s*\([^)]*\)', "", target["expr"])
            names.update(
                word for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if word not in PROMQL_WORDS
            )
    return names


def test_the_dashboard_covers_what_operators_watch():
    names = queried_metrics()
    for wanted in (
        "compat_queue_messages",
        "compat_tasks_total",
        "compat_task_retries_total",
        "compat_task_duration_seconds_bucket",
        "compat_scheduler_lag_seconds",
        "compat_dead_letters",
    ):
        assert wanted in names


def test_every_metric_the_dashboard_queries_is_in_the_metrics_output(client, current_app, ran, redis_client):
    from scheduler.lease import Lease
    from scheduler.runs import RunLedger

    lease = Lease(redis_client, f"{current_app.conf.ops_scheduler_prefix}:leader", ttl=60)
    lease.acquire()
    from datetime import UTC, datetime

    RunLedger(redis_client, current_app.conf.ops_scheduler_prefix).advance("nightly-add", datetime.now(UTC))
    try:
        client.force_login(User.objects.create_user("grafana-staff", password="pw", is_staff=True))
        response = client.get("/metrics")
    finally:
        lease.release()
    assert response.status_code == 200
    served = {
        sample.name
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    missing = queried_metrics() - served
    assert not missing, f"the Grafana dashboard queries metrics /metrics does not serve: {sorted(missing)}"
