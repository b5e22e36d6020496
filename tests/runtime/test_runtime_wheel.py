"""The runtime installs on its own: build its wheel, install it into a fresh venv without Django, run an app.

The wheel is built from a copy of ``compat/``, ``scheduler/``, ``ops/`` and ``runtime/`` (so the build
leaves nothing in the checkout), installed with its ``scheduler`` extra and its dependencies from the
package registries, and used by a plain-Python app outside the checkout: ``delay()`` and ``get()`` from a
client process, a real ``python -m dramatiq`` worker, and the scheduler daemon enqueueing an entry that the
worker runs. Slow (a build and a venv, about a minute), not flaky: every wait is a poll with a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)

APP = '''
"""A plain-Python compat app: no Django anywhere."""
import os

import redis

from compat import Celery

URL, NS = os.environ["PLAIN_REDIS"], os.environ["PLAIN_NS"]
app = Celery("plain", broker=URL, backend=URL)
app.conf.update(
    broker_namespace=NS,
    result_namespace=NS + "-res",
    task_default_queue="default",
    timezone="UTC",
    beat_schedule={"tick": {"task": "plainapp.tick", "schedule": 1.0, "args": ["beat"]}},
)


@app.task
def add(x, y):
    return x + y


@app.task(ignore_result=True)
def tick(source):
    redis.Redis.from_url(URL).rpush(NS + ":ticks", source)
'''

CLIENT = '''
import compat, plainapp
result = plainapp.add.delay(2, 3)
print(result.get(timeout=60), compat.__file__)
'''


def run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{argv} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def runtime_wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for folder in ("compat", "scheduler", "ops", "runtime"):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(src / "runtime")])
    (wheel,) = dist.glob("compat_runtime-*.whl")
    return wheel


def test_the_wheel_holds_the_runtime_and_nothing_of_the_app(runtime_wheel):
    names = zipfile.ZipFile(runtime_wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"compat", "scheduler", "ops"}
    assert "ops/templates/compat_ops/dashboard.html" in names and "ops/static/compat_ops/ops.js" in names
    (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(runtime_wheel).read(metadata).decode()
    requires = [line.split()[1:] for line in text.splitlines() if line.startswith("Requires-Dist:")]
    required = [spec[0] for spec in requires if "extra" not in " ".join(spec)]
    # pika: the RabbitMQ broker (compat/brokers/rabbitmq) is part of the runtime
    assert sorted(spec.split(">")[0].split("<")[0] for spec in required) == ["dramatiq", "pika", "redis"]


@pytest.fixture
def plain_env(redis_url, tmp_path):
    namespace = f"plain:{uuid.uuid4().hex[:10]}"
    hidden = ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    env = {key: value for key, value in os.environ.items() if key not in hidden}
    env.update(PLAIN_REDIS=redis_url, PLAIN_NS=namespace, PYTHONDONTWRITEBYTECODE="1")
    yield env
    client = redis.Redis.from_url(redis_url)
    keys = [*client.scan_iter(match=namespace + "*", count=1000)]
    if keys:
        client.delete(*keys)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def test_a_plain_python_app_runs_on_the_installed_wheel(runtime_wheel, plain_env, redis_url, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "--quiet", f"{runtime_wheel}[scheduler]"], env=plain_env)
    run([python, "-m", "pip", "check"], env=plain_env)
    no_django = run([python, "-c", "import importlib.util as u; print(u.find_spec('django'))"])
    assert no_django.stdout.strip() == "None"

    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "plainapp.py").write_text(textwrap.dedent(APP))
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []

    def start(name: str, *argv: str) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [python, *argv], cwd=app_dir, env=plain_env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    client = redis.Redis.from_url(redis_url)
    ticks = f"{plain_env['PLAIN_NS']}:ticks"
    try:
        worker = start("worker", "-m", "dramatiq", "plainapp", "-p", "1", "-t", "2")
        done = run([python, "-c", CLIENT], cwd=app_dir, env=plain_env)
        answer, module = done.stdout.split()
        assert answer == "5"
        assert module.startswith(str(venv)), "compat came from the checkout, not from the wheel"

        prefix = plain_env["PLAIN_NS"] + ":sched"
        start("scheduler", "-m", "scheduler", "--app", "plainapp:app", "--key-prefix", prefix)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not client.llen(ticks):
            assert worker.poll() is None, (logs / "worker.log").read_text()
            time.sleep(0.2)
        assert client.lrange(ticks, 0, 0) == [b"beat"], "\n".join(
            f"--- {log.name}\n{log.read_text()}" for log in logs.iterdir()
        )
    finally:
        for proc in procs:
            stop(proc)
