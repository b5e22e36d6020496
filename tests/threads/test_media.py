"""Uploads are served so that none can run as a page; image ids are not there for strangers to find;
security headers on every page (issue 14, item 2). DEBUG is off, as in production."""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.threads.support import client_for, image_bytes, make_user
from threads.models import Image, Post
from threads.services import images as imaging

pytestmark = pytest.mark.django_db

SCRIPT = b"<html><body><script>fetch('/ops/api/deadletters/', {method: 'POST'})</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


def upload(client, name: str, data: bytes, **extra):
    payload = {"file": SimpleUploadedFile(name, data), **extra}
    response = client.post("/api/images", payload, format="multipart")
    assert response.status_code == 202, response.content
    return Image.objects.get(pk=response.json()["id"])


def media(path: str):
    return client_for().get(f"/media/{path}")


@pytest.mark.parametrize("name, data", [("cute-cat.html", SCRIPT), ("cat.svg", SVG), ("cat.png", SCRIPT)])
def test_a_script_upload_is_stored_under_a_server_name_and_served_only_as_a_download(eager, name, data):
    image = upload(client_for(make_user()), name, data)  # the pipeline has not run yet
    stored = image.original.name
    assert re.fullmatch(r"images/original/[0-9a-f]{32}\.bin", stored), stored
    response = media(stored)
    assert response.status_code == 200 and b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_rejected_upload_is_deleted_and_no_longer_served(eager, django_capture_on_commit_callbacks):
    owner = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        image = upload(client_for(owner), "cute-cat.html", SCRIPT)
    stored = Image.objects.get(pk=image.pk)
    assert stored.status == "rejected" and "not a recognised image" in stored.reason
    assert not stored.original and not default_storage.exists(image.original.name)
    assert media(image.original.name).status_code == 404
    body = client_for(owner).get(f"/api/images/{image.pk}").json()
    assert body["status"] == "rejected" and body["original"] is None


def test_a_real_image_gets_the_extension_and_type_of_its_content_whatever_its_name(
    eager, django_capture_on_commit_callbacks
):
    owner = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        image = upload(client_for(owner), "photo.html", image_bytes("PNG"))
    image.refresh_from_db()
    assert image.status == "done" and image.original.name.endswith(".png")
    for name in [image.original.name, image.compressed.name, *image.thumbnails.values()]:
        # derived names too: a keyed hash, not the id (images/compressed/1.jpg was there to enumerate)
        assert re.fullmatch(r"images/(original|compressed|thumbs)/[0-9a-f]{32}(-\d+)?\.(png|jpg)", name), name
        response = media(name)
        assert response.status_code == 200 and response["Content-Type"] in {"image/png", "image/jpeg"}
        assert response["X-Content-Type-Options"] == "nosniff"
        assert not response.get("Content-Disposition", "").startswith("attachment")


def test_an_image_header_before_html_is_served_as_that_image_never_as_html(eager):
    image = upload(client_for(make_user()), "polyglot.html", b"GIF89a\x01\x00\x01\x00\x00\x00\x00" + SCRIPT)
    response = media(image.original.name)
    assert response["Content-Type"] in {"image/gif", "application/octet-stream"}
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["../threads/settings.py", "%2e%2e/manage.py", "images/%00", "images/"])
def test_media_paths_outside_the_uploads_are_404(eager, path):
    assert media(path).status_code == 404


def test_an_unattached_image_is_its_owners_and_an_attached_one_shows_no_original_to_others(eager):
    owner, stranger = make_user(), make_user()
    private = upload(client_for(owner), "a.png", image_bytes("PNG"))
    post = Post.objects.create(author=owner, content="with a picture")
    public = upload(client_for(owner), "b.png", image_bytes("PNG"), post=post.pk)
    for client in (client_for(), client_for(stranger)):
        assert client.get(f"/api/images/{private.pk}").status_code == 404
        seen = client.get(f"/api/images/{public.pk}")
        assert seen.status_code == 200 and seen.json()["original"] is None
        in_post = client.get(f"/api/posts/{post.pk}").json()["images"][0]
        assert in_post["id"] == public.pk and in_post["original"] is None
    mine = client_for(owner).get(f"/api/images/{private.pk}").json()
    assert mine["original"].startswith("http://testserver/media/images/original/")
    staff = make_user()
    staff.is_staff = True
    staff.save()
    assert client_for(staff).get(f"/api/images/{private.pk}").status_code == 200


@pytest.mark.parametrize("path", ["/", "/api/", "/api/posts", "/api/no-such-thing", "/admin/login/"])
def test_security_headers_on_every_page(eager, path):
    response = client_for().get(path)
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "script-src 'self'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_view_that_sets_its_own_policy_keeps_it(eager):
    image = upload(client_for(make_user()), "x.bin", b"data")
    policy = media(image.original.name)["Content-Security-Policy"]
    assert policy == "default-src 'none'; img-src 'self'; sandbox"


def test_sniff_format_names_only_accepted_formats():
    import io

    assert imaging.sniff_format(io.BytesIO(image_bytes("JPEG"))) == "JPEG"
    assert imaging.sniff_format(io.BytesIO(image_bytes("BMP"))) is None
    assert imaging.sniff_format(io.BytesIO(SVG)) is None
