"""The facade brokers' hook dispatch: only defined hooks run, with Dramatiq's order and error handling."""

from __future__ import annotations

import logging

import pytest
from dramatiq.broker import MessageProxy
from dramatiq.message import Message
from dramatiq.middleware import Middleware, SkipMessage

from compat.brokers.base import FieldsProxy
from compat.brokers.stub import CompatStubBroker


class Recorder(Middleware):
    def __init__(self, name: str, calls: list, fail: BaseException | None = None) -> None:
        self.name, self.calls, self.fail = name, calls, fail

    def before_process_message(self, broker, message):
        self.calls.append(("before", self.name))
        if self.fail is not None:
            raise self.fail

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self.calls.append(("after", self.name, result))


def broker_with(*middleware: Middleware) -> CompatStubBroker:
    broker = CompatStubBroker(middleware=[])
    for item in middleware:
        broker.add_middleware(item)
    return broker


def message() -> MessageProxy:
    return MessageProxy(Message(queue_name="q", actor_name="a", args=(), kwargs={}, options={}))


def test_before_hooks_in_order_after_hooks_reversed():
    calls: list = []
    broker = broker_with(Recorder("one", calls), Middleware(), Recorder("two", calls))
    broker.emit_before("process_message", message())
    broker.emit_after("process_message", message(), result=7)
    assert calls == [("before", "one"), ("before", "two"), ("after", "two", 7), ("after", "one", 7)]


def test_middleware_added_later_is_called():
    calls: list = []
    broker = broker_with(Recorder("one", calls))
    broker.emit_before("process_message", message())
    broker.add_middleware(Recorder("late", calls))
    broker.emit_before("process_message", message())
    assert calls == [("before", "one"), ("before", "one"), ("before", "late")]


def test_skip_message_propagates_other_errors_are_logged(caplog):
    calls: list = []
    broken = Recorder("broken", calls, fail=RuntimeError("boom"))
    broker = broker_with(broken, Recorder("next", calls))
    with caplog.at_level(logging.CRITICAL):
        broker.emit_before("process_message", message())
    assert calls == [("before", "broken"), ("before", "next")]  # a failing hook does not stop the others
    assert "Unexpected failure in before_process_message" in caplog.text
    skipping = broker_with(Recorder("skip", calls, fail=SkipMessage("over the limit")))
    with pytest.raises(SkipMessage):
        skipping.emit_before("process_message", message())


def test_fields_proxy_reads_like_dramatiqs_proxy():
    raw = Message(queue_name="q", actor_name="a", args=(1,), kwargs={"k": 2}, options={"o": 3})
    fast, stock = FieldsProxy(raw), MessageProxy(raw)
    for name in ("queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp"):
        assert getattr(fast, name) == getattr(stock, name)
    assert fast == stock and fast.encode() == raw.encode() and fast.copy().message_id == raw.message_id
    fast.stuff_exception(ValueError("x"))
    assert isinstance(fast._exception, ValueError)
