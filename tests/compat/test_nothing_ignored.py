"""Nothing silently ignored (issue 17, item 3): every Celery setting, task option and ``apply_async`` option
is honoured, refused with a clear error, or warned about once per process, all read from compat check's one
table (``compat/check/rules.py``)."""

from __future__ import annotations

import inspect
import logging
import re
from pathlib import Path

import pytest
from celery.app import defaults
from celery.app.task import Task as CeleryTask

from compat import Celery
from compat.check import rules
from compat.check.runtime import given_settings, setting_kind
from compat.exceptions import ImproperlyConfigured
from compat.messages import build_message

COMPAT = Path(__file__).resolve().parents[2] / "compat"
RUNTIME = {"honoured", "error", "warn"}

#: Settings honoured by what compat always does rather than by reading them (docs/compat.md says so).
ALWAYS = {"task_reject_on_worker_lost": "a dead worker's messages always run again (broker maintenance)"}


def compat_source() -> str:
    """The runtime's code: compat without the migration check (which names every Celery setting), and
    the scheduler daemon (it reads the ``beat_*`` settings)."""
    compat = [p for p in COMPAT.rglob("*.py") if "check" not in p.relative_to(COMPAT).parts]
    return "\n".join(p.read_text() for p in [*compat, *(COMPAT.parent / "scheduler").rglob("*.py")])


def celery_settings() -> list[str]:
    return [name for name, _ in defaults.flatten(defaults.NAMESPACES)]


def apply_async_options() -> list[str]:
    """The option names of Celery's ``Task.apply_async``: its parameters and the ones its docstring lists."""
    names = [p for p in inspect.signature(CeleryTask.apply_async).parameters if p not in ("self", "options")]
    names += re.findall(r"^\s{12}(\w+) \(", CeleryTask.apply_async.__doc__, re.M)
    return sorted(set(names))


def test_every_celery_setting_is_classified_and_every_honoured_one_is_read():
    names = celery_settings()
    assert len(names) > 150  # the walk really saw Celery's namespace
    unread = []
    for name in names:
        kind = setting_kind(name, None)
        assert rules.runtime(kind) in RUNTIME, name
        if name in ALWAYS:
            continue
        if rules.runtime(kind) == "honoured" and not re.search(rf"\b{name}\b", compat_source()):
            unread.append(name)
    assert not unread, f"the table says honoured, but compat never reads: {unread}"


def test_every_apply_async_option_is_classified_and_every_honoured_one_is_a_named_parameter():
    named = set(inspect.signature(build_message).parameters) | {"args", "kwargs", "task_id", "add_to_parent"}
    options = apply_async_options()
    assert {"countdown", "eta", "retry_policy", "exchange", "shadow"} <= set(options)
    for name in options:
        what = rules.runtime(f"call-option:{name}")
        assert what in RUNTIME, name
        if what == "honoured":
            assert name in named, f"{name}: the table says honoured, but build_message has no such parameter"


def test_the_celery_task_options_are_classified():
    options = [n for n, v in vars(CeleryTask).items() if n[0].islower() and not callable(v) and n != "app"]
    assert {"acks_late", "reject_on_worker_lost", "rate_limit"} <= set(options)
    for name in options:
        assert rules.runtime(f"task-option:{name}") in RUNTIME, name


@pytest.fixture
def warnings_log(caplog):
    caplog.set_level(logging.WARNING, logger="compat.settings")
    return caplog


def lines(caplog):
    return [record.getMessage() for record in caplog.records if record.name == "compat.settings"]


def test_unused_settings_warn_once_each_naming_the_docs_row(warnings_log):
    app = Celery(
        "ignored",
        broker="memory://",
        set_as_current=False,
        worker_send_task_events=True,
        accept_content=["json", "pickle"],
        task_default_queue="q",
        broker_pool_limit=5,
    )
    app.conf.update(worker_disable_rate_limits=True)
    assert app.broker is app.broker  # finalized once
    logged = lines(warnings_log)
    assert len(logged) == 3, logged
    assert any(
        "setting worker_send_task_events" in line
        and "docs/compat.md#worker-settings" in line
        and "`worker_send_task_events`" in line
        for line in logged
    )
    assert any("setting accept_content" in line and "pickle" in line for line in logged)
    assert any("setting worker_disable_rate_limits" in line for line in logged)
    assert not any("task_default_queue" in line or "broker_pool_limit" in line for line in logged)  # honoured


def test_a_config_source_with_a_namespace_and_celery_3_names_is_read(warnings_log):
    class Settings:
        CELERY_TASK_DEFAULT_QUEUE = "q"
        CELERY_WORKER_SEND_TASK_EVENTS = True
        CELERYD_POOL_RESTARTS = True
        CELERY_PASS_MODEL_BY_ID = True  # a project's own key, no setting
        DEBUG = True

    app = Celery("source", broker="memory://", set_as_current=False)
    app.config_from_object(Settings, namespace="CELERY")
    assert set(given_settings(app)) == {
        "broker_url",
        "task_default_queue",
        "worker_send_task_events",
        "worker_pool_restarts",
    }
    assert app.broker is not None
    logged = lines(warnings_log)
    assert len(logged) == 1 and "worker_send_task_events" in logged[0]  # worker_pool_restarts is honoured


def test_unused_task_and_call_options_warn_once_per_process_never_per_call(warnings_log):
    app = Celery("options", broker="memory://", set_as_current=False)

    @app.task(reject_on_worker_lost=True)
    def one():
        return 1

    @app.task(reject_on_worker_lost=True)
    def two():
        return 2

    for _ in range(5):
        one.apply_async(exchange="x", retry_policy={"max_retries": 1})
        app.send_task(one.name, producer=object())
    logged = lines(warnings_log)
    assert sorted(line.split(":")[0] for line in logged) == [
        "compat does not use apply_async option exchange",
        "compat does not use apply_async option producer",
        "compat does not use apply_async option retry_policy",
        "compat does not use task option reject_on_worker_lost",
    ]


@pytest.mark.parametrize(
    "backend",
    [
        "rpc://",
        "amqp://guest@localhost//",
        "db+sqlite:///results.db",
        "mongodb://localhost",
    ],
)
def test_an_unsupported_result_backend_is_an_error_when_the_app_is_finalized(backend):
    app = Celery("backends", broker="memory://", backend=backend, set_as_current=False)
    with pytest.raises(ImproperlyConfigured, match=r"result_backend=.*docs/compat\.md"):
        _ = app.broker
    with pytest.raises(ImproperlyConfigured):
        app.task(lambda: None, name="declared.after")


def test_a_non_json_serializer_is_an_error_at_the_call(warnings_log):
    app = Celery("serializer", broker="memory://", set_as_current=False)

    @app.task
    def noop():
        return None

    with pytest.raises(ImproperlyConfigured, match="apply_async option serializer='pickle'"):
        noop.apply_async(serializer="pickle")
    noop.apply_async(serializer="json")
    assert lines(warnings_log) == []


def test_task_apply_async_shadow_and_producer_warn_once_not_silently(caplog):
    """``Task.apply_async`` took ``shadow=`` and ``producer=`` as named parameters and dropped them."""
    from compat import Celery

    app = Celery("shadowed", broker="memory://", backend="cache+memory://", set_as_current=False)

    @app.task(name="shadowed.add")
    def add(x, y):
        return x + y

    with caplog.at_level("WARNING", logger="compat.settings"):
        for _ in range(3):
            add.apply_async((1, 2), shadow="other-name", producer=object())
    warned = [r.getMessage() for r in caplog.records if r.name == "compat.settings"]
    assert [w.split(":")[0] for w in warned] == [
        "compat does not use apply_async option producer",
        "compat does not use apply_async option shadow",
    ], warned


def test_task_reject_on_worker_lost_false_warns_once_true_is_what_compat_does(warnings_log):
    for value, expected in ((True, 0), (None, 0), (False, 1)):
        warnings_log.clear()
        app = Celery("lost", broker="memory://", set_as_current=False, task_reject_on_worker_lost=value)
        _ = app.broker
        logged = lines(warnings_log)
        assert len(logged) == expected, (value, logged)
    assert "WorkerLostError" in logged[0] and "task_reject_on_worker_lost = False" in logged[0]


def test_transport_option_keys_warn_by_their_own_row_or_are_honoured(warnings_log):
    app = Celery(
        "transport",
        broker="memory://",
        set_as_current=False,
        broker_transport_options={
            "visibility_timeout": 30,
            "sep": ":",
            "global_keyprefix": "p_",
            "queue_order_strategy": "priority",
            "fanout_prefix": True,
        },
    )
    _ = app.broker
    logged = lines(warnings_log)
    assert len(logged) == 1, logged  # queue_order_strategy is honoured (its own row)
    assert "'fanout_prefix'" in logged[0] and "any other Celery setting" in logged[0]
