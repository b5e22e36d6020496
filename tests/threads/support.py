"""Fixtures shared by tests/threads, tests/actors and tests/e2e (import them into a conftest)."""

from __future__ import annotations

import io
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from PIL import Image as PILImage
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import compat.app
from threads.celery import app as threads_app
from threads.models import Profile, UserStatistics

_names = itertools.count(1)


@pytest.fixture
def domain(settings, redis_url, redis_namespace, tmp_path):
    """Domain settings isolated for one test: its own Redis key prefix and media directory, no AI key."""
    settings.THREADS_REDIS_URL = redis_url
    settings.THREADS_REDIS_PREFIX = redis_namespace
    # Django's cache (the API throttles) on the test's Redis, under its prefix: every test starts unthrottled
    cache = {"LOCATION": redis_url, "KEY_PREFIX": f"{redis_namespace}cache"}
    settings.CACHES = {"default": {**settings.CACHES["default"], **cache}}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.OPENAI_API_KEY = ""
    settings.ELASTICSEARCH_URL = ""
    settings.THREADS_AI_RATE_LIMIT_WAIT = 0
    settings.THREADS_AI_RETRY_COUNTDOWN = 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture
def threads_current(monkeypatch):
    """Make the Threads app the facade's current app (other suites in this session create their own apps)."""
    monkeypatch.setattr(compat.app, "_current_app", threads_app)
    return threads_app


class threads_app_eager:  # noqa: N801 - used like a function
    """Eager mode on the Threads app for a block (without pytest's settings fixture)."""

    def __enter__(self):
        from django.test import override_settings

        self.override = override_settings(CELERY_TASK_ALWAYS_EAGER=True, CELERY_TASK_EAGER_PROPAGATES=True)
        self.override.enable()
        self.previous, compat.app._current_app = compat.app._current_app, threads_app
        return self

    def __exit__(self, *exc):
        compat.app._current_app = self.previous
        self.override.disable()


@pytest.fixture
def eager(domain, threads_current, monkeypatch):
    """The guide's unit-test mode: ``CELERY_TASK_ALWAYS_EAGER`` with exceptions propagating."""
    domain.CELERY_TASK_ALWAYS_EAGER = True
    domain.CELERY_TASK_EAGER_PROPAGATES = True
    return domain


def make_user(username: str | None = None, password: str = "a-Strong-pass-42", email: str | None = None):
    """A user with profile, statistics row and token (as registration makes them)."""
    username = username or f"user{next(_names)}"
    user = get_user_model().objects.create_user(username, email or f"{username}@example.com", password)
    Profile.objects.create(user=user)
    UserStatistics.objects.create(user=user)
    Token.objects.create(user=user)
    return user


@pytest.fixture
def user_factory(db):
    return make_user


def client_for(user=None) -> APIClient:
    """An API client authenticated with the user's token (anonymous without a user)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return client


def image_bytes(fmt: str = "PNG", size=(120, 80), color=(200, 30, 30), exif: bool = False) -> bytes:
    """A real image file in ``fmt`` (JPEG optionally with an EXIF block)."""
    image = PILImage.new("RGB", size, color)
    out = io.BytesIO()
    if exif:
        data = image.getexif()
        data[0x010F] = "TestCamera"  # Make
        data[0x0110] = "Model X"  # Model
        image.save(out, fmt, exif=data.tobytes())
    else:
        image.save(out, fmt)
    return out.getvalue()


class ChatCompletionsServer:
    """A local HTTP server speaking OpenAI's chat-completions protocol, with scripted failures.

    ``script`` is a list of HTTP statuses to answer in order (e.g. ``[429, 500]``) before answering 200
    with ``verdict``; ``always`` makes every answer that status. ``requests`` records each request body.
    """

    def __init__(
        self, verdict: dict | None = None, script: list[int] | None = None, always: int | None = None
    ):
        self.verdict = verdict or {
            "verdict": "false",
            "confidence": 0.97,
            "explanation": "The Earth is round.",
        }
        self.script = list(script or [])
        self.always = always
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with outer.lock:
                    outer.requests.append(
                        {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                    )
                    status = outer.always or (outer.script.pop(0) if outer.script else 200)
                if status != 200:
                    payload = {
                        "error": {"message": f"scripted {status}", "type": "server_error", "code": None}
                    }
                    self._send(status, payload, {"retry-after-ms": "10"} if status == 429 else {})
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 1700000000,
                        "model": body.get("model", "test-model"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": json.dumps(outer.verdict)},
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    },
                )

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> ChatCompletionsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
