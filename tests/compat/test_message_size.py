"""A task message over ``task_message_max_bytes`` is refused at the call site, before anything is sent,
with an error naming the task and the size; on the in-memory broker and on a real Redis."""

from __future__ import annotations

import uuid

import pytest

from compat import Celery
from compat.exceptions import EncodeError


def make_app(broker: str, limit: int | None = None) -> Celery:
    app = Celery("sizes", broker=broker, backend=broker, set_as_current=False)
    namespace = f"size-{uuid.uuid4().hex[:8]}"
    app.conf.update(broker_namespace=namespace, result_namespace=namespace + "-res")
    if limit is not None:
        app.conf.task_message_max_bytes = limit

    @app.task(name="sizes.take")
    def take(data):
        return len(data)

    return app


@pytest.mark.parametrize("broker", ["memory://", "redis"])
def test_oversized_message_is_an_encode_error_at_the_call_site(broker, redis_url, redis_client):
    app = make_app(redis_url if broker == "redis" else broker)
    take = app.tasks["sizes.take"]
    with pytest.raises(EncodeError, match=r"sizes\.take: the message is 5,000,\d{3} bytes, over the limit of "
                       r"4,194,304 bytes \(task_message_max_bytes\)"):
        take.delay("x" * 5_000_000)
    if broker == "redis":
        queue = f"{app.conf.broker_namespace}:{app.conf.task_default_queue}"
        assert redis_client.llen(queue) == 0, "nothing may be sent"
    assert take.delay("x" * 1000).id  # under the limit: sent


def test_limit_is_configurable_and_zero_turns_it_off(redis_url):
    small = make_app(redis_url, limit=2000)
    with pytest.raises(EncodeError, match="over the limit of 2,000 bytes"):
        small.tasks["sizes.take"].delay("x" * 3000)
    unlimited = make_app("memory://", limit=0)
    assert unlimited.tasks["sizes.take"].delay("x" * 5_000_000).id
