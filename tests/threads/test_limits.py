"""Size limits at the HTTP layer and strict input types (issue 14, item 6, HTTP part)."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.threads.support import client_for, image_bytes, make_user
from threads.models import Image, Post

pytestmark = pytest.mark.django_db


def stored_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files] if os.path.isdir(root) else []


def post_file(user, data: bytes, name: str = "big.png"):
    return client_for(user).post("/api/images", {"file": SimpleUploadedFile(name, data)}, format="multipart")


def test_a_50_mb_upload_is_refused_with_a_json_413_before_anything_is_stored(eager):
    user = make_user()
    response = post_file(user, image_bytes("PNG")[:64] + b"\0" * (50 * 1024 * 1024))
    assert response.status_code == 413
    limit = eager.THREADS_UPLOAD_MAX_BYTES
    assert response.json() == {"detail": f"The request body is larger than {limit} bytes."}
    assert limit == eager.THREADS_IMAGE_MAX_BYTES + 64 * 1024
    assert Image.objects.count() == 0 and stored_files(eager) == []


def test_a_file_over_the_image_limit_is_stopped_as_it_streams_in(eager):
    """The body's length is within bounds, the file in it is not: the upload handler stops it."""
    eager.THREADS_IMAGE_MAX_BYTES = 100_000
    eager.THREADS_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    user = make_user()
    response = post_file(user, b"\0" * 100_001)
    assert response.status_code == 413
    assert response.json() == {"detail": "The uploaded file is larger than 100000 bytes."}
    assert Image.objects.count() == 0 and stored_files(eager) == []
    assert post_file(user, image_bytes("PNG")).status_code == 202  # within the limit: accepted


@pytest.mark.parametrize(
    "body",
    [
        '{"content": 123}',
        '{"content": 12.5}',
        '{"content": true}',
        '{"content": ["a post"]}',
        '{"content": {"text": "a post"}}',
        '{"content": 1e999999}',
        '{"content": -1e999999}',
        '{"content": NaN}',
        '{"content": Infinity}',
        '{"content": "ok", "extra": 1e400}',
    ],
)
def test_content_must_be_a_json_string_and_numbers_finite(eager, body):
    response = client_for(make_user()).post("/api/posts", body, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error.get("content") == ["Not a valid string."] or error["detail"].startswith("JSON parse error")
    assert Post.objects.count() == 0


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"username": 12345, "email": "x@example.com", "password": "pl4ne-Tree-x"}, "username"),
        ({"username": "erin", "email": "x@example.com", "password": 123456789012}, "password"),
        ({"username": "erin", "email": ["x@example.com"], "password": "pl4ne-Tree-x"}, "email"),
    ],
)
def test_register_fields_must_be_strings(eager, payload, field):
    response = client_for().post("/api/auth/register", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert get_user_model().objects.count() == 0


def test_token_fields_must_be_strings(eager):
    make_user("12345", password="pl4ne-Tree-x")
    credentials = {"username": 12345, "password": "pl4ne-Tree-x"}
    response = client_for().post("/api/auth/token", credentials, format="json")
    assert response.status_code == 400 and response.json() == {"username": ["Not a valid string."]}
