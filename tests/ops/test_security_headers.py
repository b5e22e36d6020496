"""A strict Content-Security-Policy on the dashboard: scripts and styles from this site only, no framing.

The browser test (test_browser.py) proves the page still works under it; these check the header and
that the page carries nothing the policy would block.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls")]


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_user("ops-csp", password="pw", is_staff=True))


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_page_has_a_strict_policy(client, current_app, staff):
    response = client.get("/ops/")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'" and policy["base-uri"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_page_has_no_inline_script_style_or_handler(client, current_app, staff):
    html = client.get("/ops/").content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # every script is a file
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)  # no onclick=... handlers
    assert 'href="/static/compat_ops/ops.css"' in html


def test_api_answers_and_errors_carry_the_policy_too(client, current_app, staff):
    for path in ("/ops/api/queues", "/ops/api/nope", "/ops/api/tasks/unknown"):
        assert directives(client.get(path))["default-src"] == "'none'", path


def test_static_files_on_another_origin_are_allowed(client, current_app, staff, settings):
    settings.STATIC_URL = "https://cdn.example.com/static/"
    policy = directives(client.get("/ops/"))
    assert policy["script-src"] == "'self' https://cdn.example.com"
    assert policy["style-src"] == "'self' https://cdn.example.com"
