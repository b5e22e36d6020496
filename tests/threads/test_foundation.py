"""The foundation: DATABASE_URL parsing, home and health pages, the app's Redis, the launcher's checks and a
smoke run (on a private Redis, and on RabbitMQ with a private Redis beside it)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from tests.helpers import alive, descendants, free_port, wait_for_http
from tests.rabbitmq_support import rabbitmq_url  # noqa: F401 - the module's vhost
from threads import launch
from threads.dburl import parse_database_url
from threads.redis_urls import app_redis_url

ROOT = Path(__file__).resolve().parents[2]
BASE = Path("/srv/app")


# --- DATABASE_URL --------------------------------------------------------------------

def test_postgres_url_is_parsed():
    db = parse_database_url("postgres://alice:s%40cret@db.example:6543/threads?sslmode=require", BASE)
    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "threads",
        "USER": "alice",
        "PASSWORD": "s@cret",
        "HOST": "db.example",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require"},
    }


def test_postgresql_scheme_without_password_or_port():
    db = parse_database_url("postgresql://postgres@127.0.0.1/test", BASE)
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql", "test", "postgres", "", "127.0.0.1", "")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///var/db.sqlite3", BASE / "var/db.sqlite3"),
        ("sqlite:////tmp/abs.sqlite3", Path("/tmp/abs.sqlite3")),
        ("sqlite://:memory:", ":memory:"),
    ],
)
def test_sqlite_urls_are_parsed(url, name):
    assert parse_database_url(url, BASE) == {"ENGINE": "django.db.backends.sqlite3", "NAME": name}


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql://root@localhost/threads",
        "postgres://user@host:notaport/threads",
        "postgres://user@host:5432",
        "postgres://user@host:5432/",
        "sqlite://",
        "sqlite:///",
        "postgres://user@host/threads?sslmode",
        "://nothing",
    ],
)
def test_malformed_database_urls_are_rejected_in_one_line(url):
    with pytest.raises(ImproperlyConfigured) as info:
        parse_database_url(url, BASE)
    message = str(info.value)
    assert message.startswith("DATABASE_URL is malformed") and "\n" not in message


def test_query_options_stay_text_and_the_last_repeat_wins():
    db = parse_database_url("postgres://u@h/db?connect_timeout=10&sslmode=prefer&sslmode=require", BASE)
    assert db["OPTIONS"] == {"connect_timeout": "10", "sslmode": "require"}


def test_password_is_not_echoed_in_errors():
    with pytest.raises(ImproperlyConfigured) as info:
        parse_database_url("postgres://u:hunter2@host:bad/x", BASE)
    assert "hunter2" not in str(info.value)


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_of_database_url():
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres", "pgsql")) else "sqlite"
    assert connection.vendor == expected


# --- pages -----------------------------------------------------------------------------

def test_home_page_says_what_this_is(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Dramatiq" in body and 'href="/api/"' in body


def test_api_root_links_health(client):
    response = client.get("/api/")
    assert response.status_code == 200
    assert response.json()["healthz"].endswith("/healthz")


def test_healthz_pings_the_broker(client, settings, redis_url):
    settings.CELERY_BROKER_URL = redis_url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "broker": "ok"}


def test_healthz_reports_an_unreachable_broker(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["ok"] is False


def test_healthz_pings_this_projects_stores_whichever_app_is_current(client, settings, redis_url,
                                                                     monkeypatch):
    import compat.app
    from compat import Celery

    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)  # it would win over the other app's backend
    down = f"redis://127.0.0.1:{free_port()}/0"
    other = Celery("other", broker="memory://", backend=down, set_as_current=False)
    monkeypatch.setattr(compat.app, "_current_app", other)
    settings.CELERY_BROKER_URL = redis_url
    assert client.get("/healthz").json() == {"ok": True, "broker": "ok"}


def test_healthz_opens_an_amqp_connection_to_a_live_rabbitmq(client, settings, rabbitmq_url):  # noqa: F811
    settings.CELERY_BROKER_URL = rabbitmq_url
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    # the results and the facade's stores are in the suite's Redis: another server, pinged on its own
    assert response.json() == {"ok": True, "broker": "ok", "stores": "ok"}


def test_healthz_reports_an_amqp_broker_on_a_closed_port(client, settings):
    port = free_port()
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{port}//"
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 10  # one attempt with a 2 s timeout, not pika's retries
    assert response.status_code == 503
    body = response.json()
    assert (body["ok"], body["broker"], body["stores"]) == (False, "unreachable", "ok")
    assert f"127.0.0.1:{port}" in body["errors"]["broker"] and "ConnectionRefused" in body["errors"]["broker"]


def test_healthz_reports_the_apps_redis_when_it_is_another_server(client, settings, redis_url):
    settings.CELERY_BROKER_URL = redis_url
    settings.THREADS_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert {k: v for k, v in response.json().items() if k != "errors"} == {
        "ok": False, "broker": "ok", "redis": "unreachable"}


# --- the app's own Redis (THREADS_REDIS_URL) ---------------------------------------------------

AMQP = "amqp://guest:s3cret@rabbit:5672/threads"


@pytest.mark.parametrize(
    ("explicit", "backend", "stores", "broker", "expected"),
    [
        (None, "redis://results:6379/1", None, AMQP, "redis://results:6379/1"),
        (None, "django-db", "redis://stores:6379/2", AMQP, "redis://stores:6379/2"),
        (None, "django-db", None, "redis://broker:6379/0", "redis://broker:6379/0"),
        ("redis://own:6379/3", "redis://results:6379/1", None, AMQP, "redis://own:6379/3"),
    ],
)
def test_the_apps_redis_is_threads_redis_url_else_the_facades_stores(explicit, backend, stores, broker,
                                                                     expected):
    assert app_redis_url(explicit, backend, stores, broker) == expected


def test_without_any_redis_the_settings_refuse_naming_threads_redis_url():
    env = {**os.environ, "CELERY_BROKER_URL": AMQP, "CELERY_RESULT_BACKEND": "django-db",
           "DJANGO_SETTINGS_MODULE": "threads.settings"}
    env.pop("THREADS_REDIS_URL", None)
    env.pop("CELERY_STORES_URL", None)
    done = subprocess.run([sys.executable, "-c", "import threads.settings"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: THREADS_REDIS_URL is unset"), last
    assert "CELERY_BROKER_URL (amqp://)" in last and "set THREADS_REDIS_URL to a redis:// URL" in last
    assert "s3cret" not in done.stderr


def test_threads_redis_url_must_be_a_redis():
    with pytest.raises(ImproperlyConfigured, match=r"^THREADS_REDIS_URL must be a redis://.*not amqp://$"):
        app_redis_url(AMQP, "redis://results:6379/1", None, AMQP)


@pytest.mark.django_db
def test_demo_data_is_idempotent():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("load_demo_data")
    call_command("load_demo_data")
    users = get_user_model().objects.filter(username__in=["alice", "bob", "carol"])
    assert users.count() == 3
    assert all(user.check_password("demo-password") for user in users)


# --- the launcher's configuration checks -------------------------------------------------

def test_launcher_rejects_a_malformed_database_url():
    with pytest.raises(launch.ConfigError) as info:
        launch.check_database_url({"DATABASE_URL": "postgres://u@h:xx/db"})
    assert "DATABASE_URL is malformed" in str(info.value) and "\n" not in str(info.value)


def test_launcher_rejects_a_port_in_use():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(launch.ConfigError, match=rf"^port {port} is already in use$"):
            launch.check_port_free("127.0.0.1", port)


def test_launcher_rejects_an_unreachable_broker():
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(launch.ConfigError) as info:
        launch.check_broker(url, timeout=0.5)
    assert url in str(info.value) and "\n" not in str(info.value)


def test_launcher_accepts_a_reachable_broker(redis_url):
    launch.check_broker(redis_url)


def test_launcher_accepts_a_reachable_rabbitmq(rabbitmq_url):  # noqa: F811
    launch.check_broker(rabbitmq_url)


def test_launcher_pings_rabbitmq_and_keeps_the_redis_configured_beside_it(tmp_path, redis_url):
    environ = {"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//", "CELERY_RESULT_BACKEND": redis_url}
    with pytest.raises(launch.ConfigError, match=r"^cannot reach the broker at amqp://guest:\*\*\*@127"):
        launch.ensure_broker(dict(environ), tmp_path)
    assert not launch.needs_private_redis(environ)
    assert not launch.needs_private_redis({**environ, "CELERY_RESULT_BACKEND": "django-db",
                                            "CELERY_STORES_URL": redis_url})


@pytest.mark.parametrize(
    ("given", "pointed"),
    [
        ({}, "CELERY_RESULT_BACKEND"),  # the results, and with them the stores and the app's keys
        ({"CELERY_RESULT_BACKEND": "django-db"}, "CELERY_STORES_URL"),
        ({"CELERY_RESULT_BACKEND": "django-db", "CELERY_STORES_URL": "false"}, "THREADS_REDIS_URL"),
    ],
)
def test_launcher_starts_a_private_redis_beside_rabbitmq_only_for_what_has_none(given, pointed, tmp_path,
                                                                                rabbitmq_url):  # noqa: F811
    environ = {"CELERY_BROKER_URL": rabbitmq_url, **given}
    server = launch.ensure_broker(environ, tmp_path)
    try:
        assert server is not None and environ[pointed] == server.url
        assert environ["CELERY_BROKER_URL"] == rabbitmq_url
        assert redis.Redis.from_url(server.url).ping()
    finally:
        server.stop()


def _launch(env_changes: dict[str, str | None], *args: str, **popen) -> subprocess.Popen:
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.Popen([sys.executable, "-m", "threads.launch", *args], cwd=ROOT, env=env,
                            text=True, **popen)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "postgres://u@h:nope/db"}, r"^error: DATABASE_URL is malformed"),
        ({"CELERY_BROKER_URL": "redis://127.0.0.1:{closed}/0"},
         r"^error: cannot reach the broker at redis://127\.0\.0\.1:\d+/0"),
        ({"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:{closed}//"},
         r"^error: cannot reach the broker at amqp://guest:\*\*\*@127\.0\.0\.1:\d+// \(CELERY_BROKER_URL\)"),
        ({}, r"^error: port \d+ is already in use$"),
    ],
)
def test_launcher_exits_with_a_one_line_error(env, expected, tmp_path):
    env = {key: value.format(closed=free_port()) for key, value in env.items()}
    env.setdefault("DATABASE_URL", None)
    env["THREADS_VAR_DIR"] = str(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1] if expected.endswith("in use$") else free_port()
        proc = _launch(env, "--port", str(port), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert err.count("\n") == 1 and re.search(expected, err), err
    assert "Traceback" not in out + err


# --- smoke: the default path (SQLite, private Redis), and RabbitMQ with a private Redis beside it -------

@pytest.mark.parametrize("broker", ["private redis", "rabbitmq"])
def test_launcher_serves_and_leaves_nothing_behind_on_ctrl_c(broker, tmp_path, request):
    port = free_port()
    log = (tmp_path / "launch.log").open("w")
    amqp = request.getfixturevalue("rabbitmq_url") if broker == "rabbitmq" else None
    unset = dict.fromkeys(("CELERY_RESULT_BACKEND", "CELERY_STORES_URL", "THREADS_REDIS_URL", "DATABASE_URL"))
    proc = _launch({"CELERY_BROKER_URL": amqp, **unset, "THREADS_VAR_DIR": str(tmp_path / "var")},
                   "--port", str(port), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    children: set[int] = set()
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=120, proc=proc) == 200, \
            (tmp_path / "launch.log").read_text()
        output = (tmp_path / "launch.log").read_text()
        private = r"(redis://127\.0\.0\.1:\d+/0) \(private redis-server"
        if amqp:
            assert re.search(r"broker\s+amqp://guest:\*\*\*@127\.0\.0\.1:\d+/[\w-]+\n", output), output
            found = re.search(rf"redis\s+{private}", output)
        else:
            found = re.search(rf"broker\s+{private}", output)
        assert found, output
        assert redis.Redis.from_url(found.group(1)).ping()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            # the web process opened an AMQP connection to the broker, and pinged the private Redis apart
            assert json.load(response) == ({"ok": True, "broker": "ok", "stores": "ok"} if amqp
                                           else {"ok": True, "broker": "ok"})
        children = descendants(proc.pid)
        assert len(children) >= 2  # at least the private Redis and the web server
        time.sleep(1)  # let honcho register every process before the signal
        children |= descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            children |= descendants(proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.2)
    left = [pid for pid in children if alive(pid)]
    for pid in left:  # clean up after a failure: only the pids this test started
        os.kill(pid, signal.SIGKILL)
    assert not left, (tmp_path / "launch.log").read_text()


# --- bin/with-redis (behind `make test`) ---------------------------------------------------

def test_with_redis_starts_a_private_redis_and_stops_it_even_on_failure(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    script = ("import os, redis; assert redis.Redis.from_url(os.environ['REDIS_URL']).ping(); "
              "raise SystemExit(3)")
    proc = subprocess.run([sys.executable, str(ROOT / "bin/with-redis"), "--dir", str(tmp_path), "--",
                           sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    pid = re.search(r"private Redis at redis://127\.0\.0\.1:\d+/0 \(pid (\d+)\)", proc.stderr)
    assert pid, proc.stderr
    assert not alive(int(pid.group(1)))


def test_with_redis_uses_a_configured_redis(redis_url):
    env = {**os.environ, "REDIS_URL": redis_url}
    script = "import os; print(os.environ['CELERY_BROKER_URL'])"
    proc = subprocess.run([sys.executable, str(ROOT / "bin/with-redis"), "--", sys.executable, "-c", script],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "private Redis" not in proc.stderr


def test_the_apps_redis_is_the_one_a_real_facade_app_keeps_its_stores_in(monkeypatch):
    """For the same settings, Threads' own keys land in the Redis that ``compat.stores.redis_for`` gives a
    real app's dead letters and metrics; a CELERY_STORES_URL that is no Redis is refused, naming it."""
    from compat import Celery
    from compat.stores import redis_for

    def where(url_or_client):
        client = redis.Redis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        kwargs = client.connection_pool.connection_kwargs
        return kwargs.get("host"), kwargs.get("port"), kwargs.get("db")

    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):  # the suite's own, which would win
        monkeypatch.delenv(name, raising=False)
    memory = "cache+memory://"  # a result backend that is no Redis (django-db's would need its app)
    cases = [("redis://r:1/3", "redis://s:2/0", AMQP), (memory, "redis://s:2/4", "redis://b:3/0"),
             (memory, False, "redis://b:3/5"), (memory, None, "redis://b:3/6")]
    for backend, stores, broker in cases:
        app = Celery("where", broker=broker, backend=backend, set_as_current=False, stores_url=stores or None)
        assert where(app_redis_url(None, backend, stores, broker)) == where(redis_for(app)), (backend, stores)
    with pytest.raises(ImproperlyConfigured, match=r"^CELERY_STORES_URL: stores_url must be a redis://"):
        app_redis_url(None, "django-db", "amqp://elsewhere", "redis://b:1/0")
