"""``manage.py check`` reports an ``amqp://`` broker without a Redis for the facade's stores (issue 19) as
``compat_django.E001``, with the refusal's own message and fix, before any worker starts; a worker process
started anyway raises that refusal. With ``CELERY_STORES_URL`` set the check passes.

Each run is the Threads project in a subprocess, configured by its environment as a deployment is. Nothing
connects to the broker: the check and the refusal come before any connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compat import Celery
from compat.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]
#: nothing listens there
NOWHERE = "amqp://guest:guest@127.0.0.1:1/nowhere"


def run(argv: list[str], **env: str | None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "threads.settings"}
    for key in ("CELERY_STORES_URL", "THREADS_REDIS_URL"):
        environ.pop(key, None)
    environ.update({key: value for key, value in env.items() if value is not None})
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def refusal(settings) -> str:
    """The text the facade refuses a ``django-cache`` app on RabbitMQ with, when its broker is built."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    app = Celery("no-stores", broker=NOWHERE, backend="django-cache", set_as_current=False)
    with pytest.raises(ImproperlyConfigured) as refused:
        _ = app.broker
    return str(refused.value)


def test_manage_py_check_reports_rabbitmq_without_stores_with_the_refusals_text(refusal, redis_url):
    env = {"CELERY_BROKER_URL": NOWHERE, "CELERY_RESULT_BACKEND": "django-cache",
           "THREADS_REDIS_URL": redis_url}
    done = run(["manage.py", "check"], **env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "?: (compat_django.E001) broker amqp:// with result_backend 'django-cache': " in done.stderr
    # Django prints the problem, then the fix as the hint: together they are the refusal, word for word
    assert refusal.replace(" Set stores_url", "\n\tHINT: Set stores_url", 1) in done.stderr, done.stderr

    worker = run(["-c", "import compat.contrib.django.worker"], **env)
    assert worker.returncode == 1
    assert worker.stderr.strip().splitlines()[-1] == f"compat.exceptions.ImproperlyConfigured: {refusal}"


def test_manage_py_check_passes_with_stores_url(redis_url):
    done = run(["manage.py", "check"], CELERY_BROKER_URL=NOWHERE, CELERY_RESULT_BACKEND="django-cache",
               CELERY_STORES_URL=redis_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_manage_py_check_reports_a_stores_url_that_is_not_a_redis(redis_url):
    done = run(["manage.py", "check"], CELERY_BROKER_URL=NOWHERE, CELERY_RESULT_BACKEND="django-cache",
               CELERY_STORES_URL="amqp://guest@127.0.0.1//", THREADS_REDIS_URL=redis_url)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert ("?: (compat_django.E002) stores_url must be a redis://, rediss:// or unix:// URL, "
            "not 'amqp://guest@127.0.0.1//'") in done.stderr
