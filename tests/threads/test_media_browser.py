"""Issue 14's stored XSS, replayed in a real browser: staff opens bob's ``cute-cat.html`` upload.

Before the fix Chromium rendered the upload as a page of the app's origin and its script, with the staff
session, read the CSRF cookie and POSTed. Now the file is a download and nothing runs. Debian's
``chromium`` driven by Playwright (no browser download); skipped only where that Chromium is missing.
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tests.threads.support import client_for, make_user
from threads.api import views as api_views
from threads.models import Image, Post

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = os.environ.get("OPS_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
# What the attacker's page did: read the CSRF cookie, POST with the victim's session.
PAYLOAD = b"""<!doctype html><html><body><h1>cute cat</h1><script>
const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
document.title = "script ran";
fetch("/api/posts", {method: "POST", credentials: "same-origin",
  headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
  body: JSON.stringify({content: "pwned"})});
</script></body></html>"""


@pytest.fixture
def chromium_page(monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM calls here are synchronous
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        page = browser.new_context(accept_downloads=True).new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            browser.close()


def test_staff_opening_an_html_upload_downloads_it_and_runs_no_script(
    eager, monkeypatch, live_server, chromium_page
):
    monkeypatch.setattr(api_views, "apply_async_on_commit", lambda *a, **k: None)  # the pipeline has not run
    bob = make_user("bob")
    response = client_for(bob).post(
        "/api/images", {"file": SimpleUploadedFile("cute-cat.html", PAYLOAD)}, format="multipart"
    )
    assert response.status_code == 202
    url = client_for(bob).get(f"/api/images/{response.json()['id']}").json()["original"]
    get_user_model().objects.create_user("staffer", password="correct horse", is_staff=True)
    connection.close()  # Playwright's thread would otherwise keep this connection open past the test

    page = chromium_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staffer")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    assert any(cookie["name"] == "csrftoken" for cookie in page.context.cookies())

    media_url = live_server.url + url.removeprefix("http://testserver")
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    try:
        page.goto(media_url)
    except Exception as exc:  # Chromium aborts a navigation that turns into a download
        assert "Download is starting" in str(exc) or "ERR_ABORTED" in str(exc), exc
    page.wait_for_timeout(1500)  # what the script would have needed to send its POST
    assert not Post.objects.filter(content="pwned").exists(), "the upload's script ran with staff's session"
    assert page.title() != "script ran"
    assert [d.suggested_filename.rsplit(".", 1)[1] for d in downloads] == ["bin"]
    assert Image.objects.count() == 1
    connection.close()


def test_the_apps_pages_work_under_their_content_security_policy(eager, live_server, chromium_page):
    """The home page, DRF's browsable API and the admin load with no CSP violation in the console."""
    get_user_model().objects.create_superuser("staffer", "staffer@example.com", "correct horse")
    connection.close()
    page = chromium_page
    violations = []
    page.on("console", lambda message: violations.append(message.text))
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staffer")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    for path in ["/", "/api/", "/api/posts", "/admin/", "/admin/auth/user/", "/admin/auth/user/add/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    assert [text for text in violations if "Content Security Policy" in text] == []
