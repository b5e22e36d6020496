"""Eager mode and call-time checks, on an in-memory app (no broker, no worker): pure logic."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest

from compat import Celery, chain, chord, group, states
from compat.exceptions import EncodeError, MaxRetriesExceededError, NotRegistered, Retry


@pytest.fixture
def app():
    app = Celery("eagertest", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.task_always_eager = True
    return app


@pytest.fixture
def t(app):
    class Tasks:
        pass

    ns = Tasks()

    @app.task
    def add(x, y):
        return x + y

    @app.task
    def fail():
        raise ValueError("boom")

    @app.task(bind=True, max_retries=3)
    def flaky(self, until):
        if self.request.retries < until:
            raise self.retry(countdown=60)
        return self.request.retries

    @app.task(bind=True)
    def info(self, *args, **kwargs):
        r = self.request
        return {"id": r.id, "is_eager": r.is_eager, "called_directly": r.called_directly, "args": r.args}

    @app.task
    def echo(*args, **kwargs):
        return [list(args), kwargs]

    @app.task
    def tsum(values):
        return sum(values)

    for name, value in list(locals().items()):
        if name not in ("ns", "Tasks", "app"):
            setattr(ns, name, value)
    return ns


def test_delay_returns_eager_result(t):
    result = t.add.delay(2, 3)
    assert type(result).__name__ == "EagerResult"
    assert result.get() == 5
    assert result.state == states.SUCCESS
    assert result.ready()


def test_direct_call_runs_inline(t):
    assert t.add(1, 2) == 3
    assert t.info()["called_directly"] is True
    assert t.info()["id"] is None


def test_request_in_eager_mode(t):
    result = t.info.delay(1, 2)
    value = result.get()
    assert value == {"id": result.id, "is_eager": True, "called_directly": False, "args": [1, 2]}


def test_typing_error_at_call_time(t):
    with pytest.raises(TypeError, match=r"add\(\) missing 1 required positional argument: 'y'"):
        t.add.delay(1)
    with pytest.raises(TypeError, match=r"add\(\) got an unexpected keyword argument 'z'"):
        t.add.delay(1, 2, z=3)


def test_args_must_be_list_or_tuple_with_a_broker(app, t):
    app.conf.task_always_eager = False
    with pytest.raises(TypeError, match="task args must be a list or tuple"):
        app.send_task("x.y", args="ab")
    with pytest.raises(TypeError, match="task keyword arguments must be a mapping"):
        app.send_task("x.y", kwargs=[1])


def test_unserializable_args_fail_at_call_site_naming_the_argument(app, t):
    with pytest.raises(EncodeError, match="Object of type object is not JSON serializable"):
        t.add.delay(object(), 1)
    app.conf.task_always_eager = False
    with pytest.raises(EncodeError, match=r"add: positional argument 0"):
        t.add.delay({1, 2}, 1)
    assert app.broker.queues["celery"].qsize() == 0


def test_json_types_round_trip_in_eager_mode(t):
    values = [
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        datetime.date(2026, 1, 2),
        datetime.time(3, 4),
        Decimal("1.5"),
        uuid.UUID(int=5),
        b"raw",
        (1, 2),
    ]
    args, _ = t.echo.delay(*values).get()
    assert args[:6] == values[:6]
    assert args[6] == [1, 2]


def test_failure_eager_result_and_propagation(app, t):
    result = t.fail.delay()
    assert result.state == states.FAILURE
    assert isinstance(result.result, ValueError)
    assert "ValueError: boom" in result.traceback
    with pytest.raises(ValueError):
        result.get()
    app.conf.task_eager_propagates = True
    with pytest.raises(ValueError, match="boom"):
        t.fail.delay()


def test_eager_retries_run_inline(app, t):
    assert t.flaky.delay(2).get() == 2
    result = t.flaky.delay(10)
    assert result.state == states.FAILURE
    assert isinstance(result.result, MaxRetriesExceededError)


def test_retry_raises_to_caller_under_eager_propagation(app, t):
    app.conf.task_eager_propagates = True
    with pytest.raises(Retry, match="Retry in 60s"):
        t.flaky.delay(1)


def test_get_inside_eager_task_started_by_delay_raises(app):
    @app.task
    def inner():
        return 1

    @app.task
    def outer():
        return inner.delay().get()

    result = outer.delay()
    assert isinstance(result.result, RuntimeError)
    assert outer.apply().get() == 1


def test_short_name_resolution(app, t):
    app.conf.task_always_eager = False
    assert app.resolve_name("add") == t.add.name

    @app.task(name="other.add")
    def add2(x, y):
        return x + y

    with pytest.raises(NotRegistered, match="ambiguous"):
        app.resolve_name("add")
    with pytest.raises(NotRegistered, match="No task named 'nothing'"):
        app.resolve_name("nothing")


def test_eager_canvas(t):
    assert chain(t.add.s(1, 2), t.add.s(3), t.add.s(4)).apply_async().get() == 10
    assert (t.add.s(1, 1) | t.add.s(2)).delay().get() == 4
    assert group(t.add.s(i, i) for i in range(3)).apply_async().get() == [0, 2, 4]
    assert chord([t.add.s(1, 1), t.add.s(2, 2)])(t.tsum.s()).get() == 6
    assert t.add.si(1, 1).clone(args=(10,)).args == (1, 1)


def test_failing_chain_raises_at_apply_async_in_eager_mode(t):
    with pytest.raises(ValueError, match="boom"):
        chain(t.add.s(1, 1), t.fail.si(), t.add.s(1)).apply_async()


def test_group_link_is_refused(t):
    with pytest.raises(TypeError, match="Cannot add link to group: use a chord"):
        group(t.add.s(1, 1)).apply_async(link=t.add.s(1))
    with pytest.raises(TypeError, match="Cannot add link to group: do that on individual tasks"):
        group(t.add.s(1, 1)).apply_async(link_error=t.add.s(1))


def test_signature_json_round_trip(app, t):
    import json

    from compat import signature

    sig = t.add.s(1).set(countdown=5)
    again = signature(json.loads(json.dumps(sig)), app=app)
    assert again.task == t.add.name and again.args == (1,) and again.options == {"countdown": 5}
    assert again.delay(2).get() == 3


def test_eager_chain_inside_an_eager_task(app):
    app.conf.task_eager_propagates = True

    @app.task
    def first(x):
        return x + 1

    @app.task
    def second(previous, x):
        return previous * x

    @app.task
    def outer(x):
        return chain(first.s(x), second.s(3)).apply_async().get()

    with pytest.raises(RuntimeError, match="Never call result.get"):
        outer.delay(1)  # the chain itself runs; joining its result inside a task is still refused

    @app.task
    def outer_without_join(x):
        return chain(first.s(x), second.s(3)).apply_async().id

    assert outer_without_join.delay(1).successful()
