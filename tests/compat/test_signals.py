"""compat.signals: Celery's dispatch semantics, and the task loggers (compat.utils.log)."""

from __future__ import annotations

import gc
import logging

import pytest

import compat
from compat import signals
from compat.signals import Signal
from compat.utils.log import get_task_logger


@pytest.fixture
def app():
    app = compat.Celery("sigtest", broker="memory://", backend="memory://")
    app.conf.task_always_eager = True
    return app


def test_connect_as_call_and_as_decorator_send_returns_answers():
    sig = Signal(name="s")

    def one(sender, **kwargs):
        return ("one", sender, kwargs)

    sig.connect(one)

    @sig.connect(weak=False)
    def two(**kwargs):
        return "two"

    answers = sig.send(sender="x", value=1)
    assert [answer for _, answer in answers] == [("one", "x", {"signal": sig, "value": 1}), "two"]


def test_a_receiver_without_kwargs_is_refused():
    with pytest.raises(ValueError, match="keyword arguments"):
        Signal().connect(lambda sender: None)


def test_sender_filters_by_identity_and_strings_by_value():
    sig, seen = Signal(), []
    task_a, task_b = object(), object()
    sig.connect(lambda **kw: seen.append(("a", kw["sender"])), sender=task_a, weak=False, dispatch_uid="a")
    sig.connect(lambda **kw: seen.append(("name", kw["sender"])), sender="tasks.add", weak=False,
                dispatch_uid="n")
    sig.send(sender=task_b)
    sig.send(sender=task_a)
    sig.send(sender="tasks.add")
    assert seen == [("a", task_a), ("name", "tasks.add")]


def test_dispatch_uid_connects_once_and_disconnects():
    sig = Signal()

    def receiver(**kwargs):
        return 1

    sig.connect(receiver, dispatch_uid="uid")
    sig.connect(receiver, dispatch_uid="uid")
    assert len(sig.send(None)) == 1
    assert sig.disconnect(dispatch_uid="uid") is True
    assert sig.send(None) == []
    assert sig.disconnect(dispatch_uid="uid") is False


def test_weak_receivers_go_with_their_owner_strong_ones_stay():
    sig = Signal()

    class Owner:
        def on(self, **kwargs):
            return "bound"

    owner = Owner()
    sig.connect(owner.on)

    def strong(**kwargs):
        return "strong"

    sig.connect(strong, weak=False)
    assert len(sig.send(None)) == 2
    del owner
    gc.collect()
    assert [answer for _, answer in sig.send(None)] == ["strong"]


def test_a_failing_receiver_is_logged_answered_and_does_not_break_the_task(app, caplog):
    @app.task
    def add(a, b):
        return a + b

    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    signals.task_prerun.connect(broken, sender=add)
    try:
        with caplog.at_level(logging.ERROR, "compat.signals"):
            assert add.delay(2, 3).get() == 5
        assert "receiver bug" in caplog.text
        answers = signals.task_prerun.send(sender=add, task_id="x", task=add, args=(), kwargs={})
        assert isinstance(answers[0][1], RuntimeError)
    finally:
        signals.task_prerun.disconnect(broken, sender=add)


def test_retry_receivers_are_refused_clearly():
    with pytest.raises(ValueError, match="retry"):
        Signal().connect(lambda **kw: None, retry=True)


def test_no_receivers_costs_one_list_test():
    sig = Signal()
    assert sig.receivers == [] and sig.send(None, a=1) == []


def test_on_failure_gets_a_real_einfo_and_self_request(app):
    seen = {}

    class Base(compat.Task):
        def on_failure(self, exc, task_id, args, kwargs, einfo):
            seen.update(type=einfo.type, text=einfo.traceback, tb=einfo.tb, same=task_id == self.request.id)

    @app.task(base=Base)
    def boom():
        raise ValueError("bad")

    result = boom.delay()
    assert result.state == "FAILURE"
    assert seen["type"] is ValueError and "ValueError: bad" in seen["text"]
    assert seen["tb"].tb_frame is not None and seen["same"]


def test_task_logger_records_carry_the_task_name_and_id(app, caplog):
    logger = get_task_logger("tests.sigtest.tasks")

    @app.task(name="sigtest.logs")
    def logs():
        logger.warning("inside")

    outside = logging.getLogger("tests.sigtest.tasks")
    with caplog.at_level(logging.WARNING):
        result = logs.delay()
        outside.warning("outside")
    inside_record, outside_record = caplog.records[-2:]
    assert (inside_record.task_name, inside_record.task_id) == ("sigtest.logs", result.id)
    assert (outside_record.task_name, outside_record.task_id) == ("???", "???")
    assert logger.parent is logging.getLogger("celery.task")
    with pytest.raises(RuntimeError, match="reserved"):
        get_task_logger("celery")
