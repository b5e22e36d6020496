"""`make run` runs the AI queue in a worker group of its own, so a burst of fact checks cannot hold the
threads that run counters, fan-out and images; together the groups consume every queue exactly once."""

from __future__ import annotations

import shlex

import pytest
from django.core.management.base import CommandError

from compat.contrib.django.management.commands.rundramatiq import queues_except
from threads.celery import app
from threads.launch import WORKER_GROUPS, procfile


def consumed(args: list[str]) -> list[str]:
    """The queues a `rundramatiq` command line consumes (for Threads' app, whatever app other tests made
    current)."""
    if "--queues" in args:
        return args[args.index("--queues") + 1 :]
    return queues_except(args[args.index("--exclude-queues") + 1 :], app)


def test_ai_queue_has_its_own_group_and_every_queue_one_group():
    every = set(app.routed_queues())
    assert {"default", "ai_queue", "image_queue"} <= every
    groups = {name: consumed(args) for name, args in WORKER_GROUPS.items()}
    assert groups["worker-ai"] == ["ai_queue"]
    assert "ai_queue" not in groups["worker"]
    flat = [queue for queues in groups.values() for queue in queues]
    assert sorted(flat) == sorted(set(flat)) and set(flat) >= every


def test_make_run_starts_both_groups():
    procs = procfile("127.0.0.1", 8000, {"rundramatiq", "scheduler"})
    assert {"web", "worker", "worker-ai", "scheduler"} <= set(procs)
    assert shlex.split(procs["worker-ai"])[-2:] == ["--queues", "ai_queue"]


def test_exclude_queues_refuses_unknown_names():
    with pytest.raises(CommandError, match="no task uses: nope"):
        queues_except(["nope"], app)
