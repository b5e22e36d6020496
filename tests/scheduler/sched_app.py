"""A tiny compat app for the scheduler's process tests: one entry firing every second.

Configured from the environment so each test run gets its own Redis keys:
``SCHEDTEST_REDIS_URL`` and ``SCHEDTEST_NAMESPACE`` (the Dramatiq broker namespace).
"""

import os

from compat import Celery

app = Celery(
    "schedtest",
    broker=os.environ.get("SCHEDTEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    broker_namespace=os.environ.get("SCHEDTEST_NAMESPACE", "schedtest"),
    timezone="UTC",
    beat_schedule={
        "tick": {"task": "schedtest.tick", "schedule": 1.0, "kwargs": {"source": "beat"}},
    },
)

if os.environ.get("SCHEDTEST_BEAT_INIT_OUT"):  # test_beat_signals: record Celery's beat_init
    import json

    from compat import signals

    @signals.beat_init.connect
    def _record_beat_init(sender=None, **kwargs):
        with open(os.environ["SCHEDTEST_BEAT_INIT_OUT"], "a") as out:
            row = {"sender": type(sender).__name__, "app_is_app": getattr(sender, "app", None) is app,
                   "kwargs": sorted(k for k in kwargs if k != "signal"), "pid": os.getpid()}
            out.write(json.dumps(row) + "\n")
