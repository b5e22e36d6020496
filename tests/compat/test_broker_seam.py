"""Redis stays behind the broker seam: only ``compat/brokers/redis/`` and the Redis stores know it.

Issue 15: the app, the middleware, eager mode, results and the dashboard readers talk to a broker through
``compat.brokers.base`` (hook dispatch, ``enqueue_many``, ``connection_errors``, ``delivery_options``,
``inspector()``) and to Redis only through the stores, so that another broker is one module plus one row
in ``compat.brokers.FACTORIES``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

COMPAT = Path(__file__).resolve().parents[2] / "compat"

#: What only the Redis broker and the Redis stores may name.
REDIS_ONLY = {
    "the redis client library or its exceptions": re.compile(r"^\s*(import|from) redis\b|\bredis\.[A-Za-z_]"),
    "a .client attribute": re.compile(r"\.client\b|[\"']client[\"']"),
    "a Redis broker key": re.compile(r"__acks__|__heartbeats__|__redeliveries__|\.msgs\b|\.wake\b|\.lanes\b"),
    "the Redis broker's message id": re.compile(r"redis_message_id"),
}

#: Modules that own a Redis connection: the Redis broker, and the stores on the result backend's Redis.
ALLOWED = (
    "brokers/redis/",
    "results/redis.py",
    "results/writer.py",  # the Redis store's writer thread (its acknowledging success writes)
    "results/subscriptions.py",  # the Redis store's pub/sub connections (get()'s completion messages)
    "deadletters.py",
    "alerts.py",
    "metrics.py",
    "stores.py",
    "control/mailbox.py",
    # Leaving compat for the top-level ops/ app (issue 15, item 4); not part of the library's seam.
    "contrib/django/ops/",
    # Reads and empties another broker's Redis (Celery's kombu layout), never compat's own keys.
    "cutover/kombu_redis.py",
)


def offenders(root: Path = COMPAT) -> dict[str, list[str]]:
    """Lines naming what ``REDIS_ONLY`` lists, per module outside ``ALLOWED``."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name.startswith(ALLOWED) or name in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for what, pattern in REDIS_ONLY.items():
                if pattern.search(line):
                    found.setdefault(name, []).append(f"{name}:{number}: {what}: {line.strip()}")
    return found


def test_no_compat_module_outside_the_redis_broker_and_stores_names_redis():
    found = offenders()
    assert not found, "\n".join(line for lines in found.values() for line in lines)


def test_the_check_sees_what_it_forbids(tmp_path):
    (tmp_path / "leaky.py").write_text(
        "import redis\n"
        "def f(app):\n"
        "    try:\n"
        "        return app.broker.client.llen(f'{ns}:__acks__.x')\n"
        "    except redis.ConnectionError:\n"
        "        return None\n"
    )
    (tmp_path / "brokers" / "redis").mkdir(parents=True)
    (tmp_path / "brokers" / "redis" / "fine.py").write_text("import redis\n")
    found = offenders(tmp_path)
    assert list(found) == ["leaky.py"]
    assert [line.split(": ")[1] for line in found["leaky.py"]] == [
        "the redis client library or its exceptions",
        "a .client attribute",
        "a Redis broker key",
        "the redis client library or its exceptions",
    ]


@pytest.mark.parametrize("scheme", ["redis", "rediss", "unix", "memory"])
def test_each_supported_scheme_has_one_factory_row(scheme):
    from compat.brokers import FACTORIES
    from compat.config import load_object

    assert callable(load_object(FACTORIES[scheme]))


@pytest.fixture
def redis_app(redis_url, redis_namespace):
    from compat import Celery

    app = Celery(
        "seam",
        broker=redis_url,
        backend=redis_url,
        set_as_current=False,
        broker_namespace=redis_namespace.rstrip(":"),
        result_namespace=redis_namespace + "res",
    )
    yield app
    app.close()


def test_a_message_carries_a_priority_number_and_the_redis_broker_picks_its_lane(redis_app, redis_client):
    message, delay = redis_app.build_message("seam.t", priority=5)
    assert message.options["priority"] == 5 and "lane" not in message.options
    (sent,) = redis_app.enqueue([(message, delay)])
    assert sent.options["lane"] == "p3"
    ns = redis_app.conf.broker_namespace
    assert redis_client.llen(f"{ns}:celery.p3") == 1 and redis_client.llen(f"{ns}:celery") == 0
    top, _ = redis_app.build_message("seam.t", priority=0)
    (sent,) = redis_app.enqueue([(top, None)])
    assert "lane" not in sent.options and redis_client.llen(f"{ns}:celery") == 1


def test_the_redis_inspector_counts_every_lane(redis_app):
    for priority in (0, 5, 9, None):
        redis_app.enqueue([redis_app.build_message("seam.t", priority=priority)])
    redis_app.enqueue([redis_app.build_message("seam.t", priority=5, countdown=60)])
    (depth,) = redis_app.broker.inspector().depths(["celery"], dead={"celery": 2})
    assert depth.as_dict() == {
        "name": "celery",
        "ready": 4,
        "delayed": 1,
        "in_progress": 0,
        "dead": 2,
        "lanes": ["p3", "p9"],
    }


def test_the_stub_inspector_counts_ready_and_delayed():
    from compat import Celery

    app = Celery("stubseam", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.broker.declare_queue("celery")
    app.enqueue([app.build_message("seam.t"), app.build_message("seam.t", countdown=60)])
    (depth,) = app.broker.inspector().depths(["celery"])
    assert (depth.ready, depth.delayed, depth.in_progress, depth.dead) == (1, 1, 0, 0)


def test_an_unreachable_broker_is_an_operational_error_naming_it_without_its_password():
    from compat import Celery
    from compat.exceptions import OperationalError

    app = Celery("down", broker="redis://:secret@127.0.0.1:1/0", set_as_current=False)
    with pytest.raises(OperationalError, match=r"Cannot reach the broker at redis://\*\*\*@127.0.0.1:1/0"):
        app.enqueue([app.build_message("seam.t")])
