"""Configuration lookup and routing rules, as Celery applies them."""

from __future__ import annotations

import re
import types

from compat import Celery
from compat.routing import build_routers, route


def test_namespace_lookup_and_old_names():
    settings = types.SimpleNamespace(
        CELERY_TASK_ALWAYS_EAGER=True,
        CELERY_EAGER_PROPAGATES_EXCEPTIONS=True,
        task_track_started=True,
        TASK_ACKS_LATE=True,
        TIME_ZONE="Europe/Berlin",
    )
    app = Celery("cfg", broker="memory://", set_as_current=False)
    app.config_from_object(settings, namespace="CELERY")
    assert app.conf.task_always_eager is True
    assert app.conf.task_eager_propagates is True
    assert app.conf.task_track_started is True
    assert app.conf.task_acks_late is False
    assert app.conf.timezone == "Europe/Berlin"
    assert app.conf.task_default_queue == "celery"


def test_conf_is_read_live_and_update_wins():
    settings = types.SimpleNamespace(CELERY_TASK_EAGER_PROPAGATES=False)
    app = Celery("cfg", broker="memory://", set_as_current=False)
    app.config_from_object(settings, namespace="CELERY")
    assert app.conf.task_eager_propagates is False
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    assert app.conf.task_eager_propagates is True
    app.conf.update(task_eager_propagates=False)
    assert app.conf["task_eager_propagates"] is False


def test_routes_exact_first_then_patterns_in_order():
    routers = build_routers(
        {
            "threads.tasks.*": {"queue": "default"},
            "threads.tasks.fact_check_content": {"queue": "ai_queue"},
            re.compile(r"threads\.tasks\.process_.*"): "image_queue",
        }
    )
    assert route(routers, "threads.tasks.fact_check_content") == {"queue": "ai_queue"}
    assert route(routers, "threads.tasks.process_image") == {"queue": "default"}
    assert route(routers, "threads.tasks.a.b") == {"queue": "default"}
    assert route(routers, "threads.tasks") == {}


def test_router_list_first_answer_wins():
    def by_function(name, args, kwargs, options, task=None, **kw):
        return {"queue": "fn"} if name.endswith("special") else None

    routers = build_routers([by_function, {"*": "fallback"}])
    assert route(routers, "x.special") == {"queue": "fn"}
    assert route(routers, "x.other") == {"queue": "fallback"}


def test_queue_precedence_explicit_then_attribute_then_routes_then_default():
    app = Celery("routes", broker="memory://", set_as_current=False)
    app.conf.task_routes = {"tests.*": "routed"}

    @app.task(queue="attr")
    def with_attr():
        return 1

    @app.task
    def plain():
        return 1

    assert app.build_message(with_attr.name, task=with_attr, queue="explicit")[0].queue_name == "explicit"
    assert app.build_message(with_attr.name, task=with_attr)[0].queue_name == "attr"
    assert app.build_message(plain.name, task=plain)[0].queue_name == "routed"
    assert app.build_message("elsewhere.x")[0].queue_name == "celery"
    assert {"routed", "celery"} <= app.routed_queues()
