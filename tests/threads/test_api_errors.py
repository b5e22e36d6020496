"""No input gets a 500: hostile JSON, NUL bytes, odd digits, oversized bodies; JSON errors under /api/;
the debug page only for this machine (issue 14, item 4)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.threads.support import client_for, make_user
from threads.api import views as api_views
from threads.models import Post

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000
REMOTE = "203.0.113.9"  # TEST-NET-3: a client that is not on this machine


def test_deeply_nested_json_is_a_400_for_posts_and_anonymous_register(domain):
    author = make_user()
    post = client_for(author).post("/api/posts", DEEP, content_type="application/json")
    register = client_for().post("/api/auth/register", DEEP, content_type="application/json")
    for response in (post, register):
        assert response.status_code == 400, response.content[:200]
        assert response["Content-Type"] == "application/json"
        assert "nested too deeply" in response.json()["detail"]
    assert Post.objects.count() == 0 and get_user_model().objects.count() == 1


def test_search_with_a_nul_byte_is_a_400(domain):
    response = client_for().get("/api/search?q=%00")
    assert response.status_code == 400 and "q" in response.json()
    assert client_for().get("/api/search", {"q": "x" * 501}).status_code == 400
    assert client_for().get("/api/search", {"q": "fine"}).status_code == 200


@pytest.mark.parametrize("before", ["²", "١٢", "-1", "0", "1.5", "9" * 19 + "0", "9" * 5000])
def test_feed_before_must_be_an_ascii_row_id(domain, before):
    response = client_for(make_user()).get("/api/feed", {"before": before})
    assert response.status_code == 400 and response.json() == {"before": ["A valid integer is required."]}


def test_feed_before_a_valid_id_pages(domain):
    user = make_user()
    first = Post.objects.create(author=user, content="first")
    Post.objects.create(author=user, content="second")
    body = client_for(user).get("/api/feed", {"before": str(first.pk + 1)}).json()
    assert [p["content"] for p in body] == ["first"]


def test_a_body_over_the_limit_is_a_json_413_and_writes_nothing(domain):
    limit = domain.THREADS_MAX_JSON_BYTES
    body = json.dumps({"content": "x" * (5 * 1024 * 1024)})
    author = make_user()
    for path, client in (("/api/posts", client_for(author)), ("/api/auth/register", client_for())):
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 413, response.content[:200]
        assert response.json() == {"detail": f"The request body is larger than {limit} bytes."}
    assert Post.objects.count() == 0 and get_user_model().objects.count() == 1


def test_the_json_parser_bounds_its_read_whatever_content_length_says(domain):
    """A body longer than its header says is cut by Django; one the parser gets is bounded anyway."""
    domain.THREADS_MAX_JSON_BYTES = 10
    response = client_for(make_user()).post(
        "/api/posts", {"content": "a post well over ten bytes"}, format="json"
    )
    assert response.status_code == 413 and response.json()["detail"].endswith("larger than 10 bytes.")


def test_unparseable_json_is_a_json_400(domain):
    response = client_for(make_user()).post("/api/posts", "{", content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"].startswith("JSON parse error")


def _boom(*args, **kwargs):
    raise RuntimeError("something broke")


@pytest.fixture
def crashing_search(monkeypatch, domain):
    """An unexpected error inside a view (the only way left to provoke a 500 here)."""
    monkeypatch.setattr(api_views.search, "search_post_ids", _boom)
    domain.DEBUG = True
    domain.CELERY_BROKER_URL = "redis://:broker-s3cret@127.0.0.1:6399/0"
    return domain


def test_with_debug_on_a_remote_client_gets_the_plain_json_500(crashing_search):
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/search", {"q": "x"}, REMOTE_ADDR=REMOTE)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    proxied = client.get("/api/search", {"q": "x"}, HTTP_X_FORWARDED_FOR=REMOTE)
    assert proxied.status_code == 500 and proxied.json() == {"detail": "Internal server error."}


def test_with_debug_on_the_local_debug_page_hides_urls_with_credentials(crashing_search):
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/search", {"q": "x"}, REMOTE_ADDR="127.0.0.1", HTTP_ACCEPT="text/html")
    assert response.status_code == 500 and "text/html" in response["Content-Type"]
    page = response.content.decode()
    assert "something broke" in page  # the technical page, for this machine
    assert "CELERY_BROKER_URL" in page and "broker-s3cret" not in page


def test_with_debug_on_a_remote_client_gets_the_plain_html_500_outside_the_api(monkeypatch, crashing_search):
    monkeypatch.setattr("threads.views.render", _boom)
    response = APIClient(raise_request_exception=False).get("/", REMOTE_ADDR=REMOTE)
    assert response.status_code == 500
    assert b"broker-s3cret" not in response.content and b"something broke" not in response.content


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"HTTP_HOST": "evil.example"},  # DisallowedHost, refused before any view
        {"data": "a=1&" * 2000, "content_type": "application/x-www-form-urlencoded"},  # TooManyFieldsSent
        {"data": b"{}", "content_type": "text/plain"},  # 415
    ],
)
def test_what_django_refuses_before_a_view_is_json_under_the_api(domain, request_kwargs):
    response = APIClient(raise_request_exception=False).generic(
        "POST", "/api/auth/register", **{"data": b"{}", "content_type": "application/json", **request_kwargs}
    )
    assert 400 <= response.status_code < 500
    assert response["Content-Type"] == "application/json" and "detail" in response.json()


class RaisingMiddleware:
    """A middleware that fails: an error outside any view, which the view-level guard never sees."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raise RuntimeError("middleware broke")


def test_with_debug_on_an_error_outside_a_view_shows_a_remote_client_nothing(crashing_search):
    raising = "tests.threads.test_api_errors.RaisingMiddleware"
    crashing_search.MIDDLEWARE = [*crashing_search.MIDDLEWARE, raising]
    client = APIClient(raise_request_exception=False)
    for accept in ("text/html", "application/json"):
        remote = client.get("/api/posts", REMOTE_ADDR=REMOTE, HTTP_ACCEPT=accept)
        assert remote.status_code == 500 and b"middleware broke" not in remote.content
        assert b"Server Error (500)" in remote.content and b"CELERY_BROKER_URL" not in remote.content
    local = client.get("/api/posts", REMOTE_ADDR="127.0.0.1", HTTP_ACCEPT="text/html")
    assert local.status_code == 500 and b"middleware broke" in local.content
