"""`make run`: check the configuration, then run the whole system in the foreground.

Runs, under honcho: the web server, two Dramatiq worker groups (one for the AI queue, one for every
other queue) and the scheduler daemon; plus a private Redis when CELERY_BROKER_URL is not set, or when it is
an amqp:// RabbitMQ and no setting names a Redis for the results, the facade's stores and the app's keys.
Ctrl-C (SIGINT) or SIGTERM stops every process, the private Redis included. Bad configuration ends with a
one-line error and exit status 2, never a traceback.

    python -m threads.launch [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from threads import health
from threads.dburl import parse_database_url
from threads.redis_server import PrivateRedis, RedisServerError
from threads.redis_urls import is_amqp, is_redis, stores_setting

BASE_DIR = Path(__file__).resolve().parent.parent
#: Worker groups, so that slow AI calls (rate limited, up to a minute each) never hold the threads that
#: run counters, fan-out and images: the AI queue gets a group of its own.
WORKER_GROUPS = {
    "worker": ["rundramatiq", "--processes", "1", "--threads", "4", "--exclude-queues", "ai_queue"],
    "worker-ai": ["rundramatiq", "--processes", "1", "--threads", "2", "--queues", "ai_queue"],
}


class ConfigError(Exception):
    """A configuration problem, reported to the user as one line."""


def var_dir(environ: dict[str, str]) -> Path:
    """The directory for runtime files: THREADS_VAR_DIR, else var/ in the checkout."""
    return Path(environ.get("THREADS_VAR_DIR") or BASE_DIR / "var").resolve()


def masked(url: str) -> str:
    """`url` with its password (if any) replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
    return url


def check_database_url(environ: dict[str, str]) -> str:
    """Validate DATABASE_URL; return a short description of the database in use."""
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"SQLite at {var_dir(environ) / 'threads.sqlite3'} (default)"
    try:
        db = parse_database_url(url, BASE_DIR)
    except ImproperlyConfigured as exc:
        raise ConfigError(str(exc)) from None
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite at {db['NAME']}"
    return f"PostgreSQL {masked(url)}"


def check_port_free(host: str, port: int) -> None:
    """Raise ConfigError when `port` on `host` cannot be bound (in use, or not allowed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server will
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} is already in use") from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def check_broker(url: str, timeout: float = 2.0, name: str = "CELERY_BROKER_URL") -> None:
    """Ping the broker at `url` (Redis or RabbitMQ); raise ConfigError naming it when it does not answer."""
    if not (is_redis(url) or is_amqp(url)):
        raise ConfigError(f"{name}={masked(url)!r} is not a redis:// or amqp:// URL")
    _answers(health.ping_broker(url, timeout), url, name, "the broker")


def check_redis(url: str, name: str, timeout: float = 2.0) -> None:
    """PING the Redis at `url`; raise ConfigError naming the setting when it is no Redis or is down."""
    if not is_redis(url):
        raise ConfigError(f"{name}={masked(url)!r} is not a redis:// URL")
    _answers(health.ping_redis(url, timeout), url, name, "Redis")


def _answers(error: str | None, url: str, name: str, what: str) -> None:
    if error:
        raise ConfigError(f"cannot reach {what} at {masked(url)} ({name}): {error.splitlines()[0]}")


def ensure_broker(environ: dict[str, str], directory: Path) -> PrivateRedis | None:
    """Check the configured broker and Redis, or start a private Redis for what has none and point
    `environ` at it: broker, results and app keys when no broker is set; beside an amqp:// broker, the
    results (or the facade's stores, beside a result backend that is not Redis) and the app's keys."""
    broker = environ.get("CELERY_BROKER_URL")
    if broker:
        check_broker(broker)
    for name in ("CELERY_RESULT_BACKEND", "CELERY_STORES_URL", "THREADS_REDIS_URL"):
        if is_redis(environ.get(name)) or (name == "THREADS_REDIS_URL" and environ.get(name)):
            check_redis(environ[name], name)
    if not needs_private_redis(environ):
        return None
    try:
        server = PrivateRedis(directory).start()
    except RedisServerError as exc:
        raise ConfigError(str(exc)) from None
    environ.setdefault("CELERY_BROKER_URL", server.url)
    environ.setdefault("CELERY_RESULT_BACKEND", server.url)
    if not is_redis(environ["CELERY_RESULT_BACKEND"]):
        if stores_setting(environ.get("CELERY_STORES_URL")) is False:
            environ["THREADS_REDIS_URL"] = server.url  # the stores are off; the app's keys need a Redis
        else:
            environ["CELERY_STORES_URL"] = server.url
    return server


def needs_private_redis(environ: dict[str, str]) -> bool:
    """No broker; or an amqp:// one with no Redis for the results or stores, unless the stores are off
    and THREADS_REDIS_URL names the app's."""
    broker = environ.get("CELERY_BROKER_URL")
    if not broker:
        return True
    stores = environ.get("CELERY_STORES_URL")
    if not is_amqp(broker) or is_redis(environ.get("CELERY_RESULT_BACKEND")) or is_redis(stores):
        return False
    return not (stores_setting(stores) is False and environ.get("THREADS_REDIS_URL"))


def available_commands(environ: dict[str, str]) -> set[str]:
    """Names of the Django management commands installed in this project."""
    os.environ.update(environ)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "threads.settings")
    import django
    from django.core.management import get_commands

    django.setup()
    return set(get_commands())


def procfile(host: str, port: int, commands: set[str]) -> dict[str, str]:
    """The processes to run, name -> shell command; optional ones only when installed."""
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    procs = {"web": manage + ["runserver", f"{host}:{port}", "--noreload"]}
    if "rundramatiq" in commands:
        for name, args in WORKER_GROUPS.items():
            procs[name] = manage + args
    if "scheduler" in commands:
        procs["scheduler"] = manage + ["scheduler"]
    return {name: shlex.join(argv) for name, argv in procs.items()}


def run_step(argv: list[str], environ: dict[str, str]) -> None:
    """Run one setup command (migrate, demo data) in the foreground; fail with one line."""
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *argv], env=environ, cwd=BASE_DIR)
    if result.returncode != 0:
        command = " ".join(argv)
        raise ConfigError(f"'manage.py {command}' failed (exit {result.returncode}); see its output above")


class Tee:
    """A text stream writing to the terminal and to a log file (for honcho's printer)."""

    def __init__(self, stream, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.stream, self.file = stream, path.open("a", encoding="utf-8")

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.file.write(text)

    def flush(self) -> None:
        self.stream.flush()
        self.file.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


def describe_servers(environ: dict[str, str], server: PrivateRedis | None) -> tuple[str, str | None]:
    """The banner's broker, and its Redis (results, stores, app keys) when that is not the broker."""
    private = f" (private redis-server, pid {server.pid}, files in {server.directory})" if server else ""
    broker = environ["CELERY_BROKER_URL"]
    if server and broker == server.url:
        return masked(broker) + private, None
    if is_redis(broker) and not server:
        return masked(broker), None
    names = ("CELERY_RESULT_BACKEND", "CELERY_STORES_URL", "THREADS_REDIS_URL")
    stores = next((environ[name] for name in names if is_redis(environ.get(name))), None)
    return masked(broker), (masked(stores) + private if stores else None)


def banner(web: str, broker: str, database: str, logs: list[Path], procs: dict[str, str],
           redis_line: str | None = None) -> str:
    """The 'what runs where' text printed before the processes start."""
    missing = [name for name in ("worker", "scheduler") if name not in procs]
    lines = [
        "Threads is starting:",
        f"  web        {web}",
        f"  dashboard  {web.rstrip('/')}/ops/ (staff; demo staff user: alice)",
        f"  broker     {broker}",
        *([f"  redis      {redis_line}"] if redis_line else []),
        f"  database   {database}",
        f"  logs       {', '.join(str(p) for p in logs)}",
        f"  processes  {', '.join(procs)}",
    ]
    if missing:
        lines.append(f"  not run    {', '.join(missing)} (management command not installed yet)")
    lines.append("Press Ctrl-C to stop everything.")
    return "\n".join(lines)


def run_processes(procs: dict[str, str], environ: dict[str, str], log_file: Path) -> int:
    """Run `procs` under honcho until Ctrl-C/SIGTERM or one of them exits; return honcho's code."""
    from honcho.manager import Manager
    from honcho.printer import Printer

    manager = Manager(Printer(Tee(sys.stdout, log_file)))
    for name, cmd in procs.items():
        manager.add_process(name, cmd, env=environ, cwd=str(BASE_DIR))
    manager.loop()
    return manager.returncode or 0


def parse_args(argv: list[str] | None, environ: dict[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m threads.launch", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(environ.get("PORT") or 8000))
    return parser.parse_args(argv)


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Check the configuration, start everything, and stop everything on the way out."""
    environ = dict(os.environ)
    args = parse_args(argv, environ)
    previous_sigterm = signal.signal(signal.SIGTERM, _stop_on_sigterm)  # until honcho's own handlers
    directory = var_dir(environ)
    environ.update(THREADS_VAR_DIR=str(directory), PYTHONUNBUFFERED="1", PORT=str(args.port),
                   DJANGO_SETTINGS_MODULE=environ.get("DJANGO_SETTINGS_MODULE", "threads.settings"))
    server = None
    try:
        database = check_database_url(environ)
        check_port_free(args.host, args.port)
        server = ensure_broker(environ, directory / "redis")
        broker, redis_line = describe_servers(environ, server)
        run_step(["migrate", "--noinput"], environ)
        run_step(["load_demo_data"], environ)
        procs = procfile(args.host, args.port, available_commands(environ))
        logs = [directory / "log" / "run.log"] + ([server.log_file] if server else [])
        web = f"http://{args.host}:{args.port}/"
        print(banner(web, broker, database, logs, procs, redis_line), flush=True)
        code = run_processes(procs, environ, logs[0])
        return 0 if code in (130, 143) else code  # stopped by Ctrl-C/SIGTERM: a normal end
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish stopping the private Redis first
        if server:
            server.stop()
        signal.signal(signal.SIGTERM, previous_sigterm)


if __name__ == "__main__":
    sys.exit(main())
