"""Choosing a Django result store: a clear error when its app is missing, and the polling wait."""

from __future__ import annotations

import threading

import pytest

from compat import Celery
from compat.exceptions import ImproperlyConfigured, TimeoutError
from compat.results.store import poll_until_ready


def test_django_db_without_its_app_is_an_error_when_the_app_is_finalized():
    # threads.settings does not install compat.contrib.django.results
    app = Celery("no-results-app", broker="memory://", backend="django-db", set_as_current=False)
    with pytest.raises(ImproperlyConfigured, match=r"'compat.contrib.django.results' in INSTALLED_APPS"):
        _ = app.broker


@pytest.mark.parametrize("backend", ["rpc://", "db+sqlite:///results.db", "django-mongo"])
def test_other_backends_stay_a_clear_error(backend):
    app = Celery("other-backend", broker="memory://", backend=backend, set_as_current=False)
    with pytest.raises(ImproperlyConfigured, match="result_backend"):
        _ = app.broker


def test_django_cache_needs_no_app_and_keeps_states_in_the_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    app = Celery("cached", broker="memory://", backend="django-cache", set_as_current=False)
    app.conf.task_always_eager = False

    @app.task(name="cached.add")
    def add(x, y):
        return x + y

    from compat import states

    app.backend.set_state("c1", states.record("c1", "SUCCESS", 3, date_done=states._now()))
    assert not app.backend.set_state("c1", states.record("c1", "STARTED"))  # ready is final
    assert app.AsyncResult("c1").get(timeout=1) == 3
    from django.core.cache import cache

    assert cache.get("celery-task-meta-c1")["result"] == 3  # Celery's key layout


def test_polling_returns_once_every_task_is_ready_and_times_out_otherwise():
    records: dict = {}
    get_many = lambda ids: [records.get(i) for i in ids]  # noqa: E731
    timer = threading.Timer(0.3, lambda: records.update(a={"status": "SUCCESS"}, b={"status": "FAILURE"}))
    timer.start()
    assert [m["status"] for m in poll_until_ready(get_many, ["a", "b"], timeout=30, interval=1.0)] == [
        "SUCCESS",
        "FAILURE",
    ]
    records["c"] = {"status": "STARTED"}
    with pytest.raises(TimeoutError, match="The operation timed out."):
        poll_until_ready(get_many, ["c"], timeout=0.2, interval=1.0)


def test_the_system_check_refuses_both_apps_owning_the_same_tables(settings):
    from compat.contrib.django.results.apps import check_setup

    assert check_setup() == []
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_celery_results"]
    problems = check_setup()
    assert [p.id for p in problems] == ["compat_results.E001"]
    assert "Remove 'django_celery_results'" in problems[0].hint
