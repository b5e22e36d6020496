"""The API's OpenAPI schema, and schemathesis run against it on a live server: no request gets a 500.

schemathesis generates requests from the schema at /api/schema/ (valid and invalid bodies, query and
path parameters, headers) and checks each answer; every operation runs anonymously and with a user's
token, with a bounded number of examples. Real PostgreSQL (DATABASE_URL) and Redis; tasks run eagerly
so the jobs behind each endpoint run too.
"""

from __future__ import annotations

import json

import hypothesis
import pytest
import schemathesis
from django.core.files.base import ContentFile
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error

from tests.threads.support import client_for, image_bytes, make_user
from threads.models import Image, Post

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 20  # per operation and identity: ~19 operations x 2 x 20 requests, well under two minutes
UNLIMITED = {"auth": "100000/min", "auth_username": "100000/min", "fact_check": "100000/min"}


def test_the_schema_is_served_and_describes_the_api(domain):
    response = client_for().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/auth/register", "/api/posts", "/api/posts/{post_id}", "/api/images", "/api/search"} <= set(
        schema["paths"]
    )
    register = schema["paths"]["/api/auth/register"]["post"]
    assert set(register["responses"]) >= {"201", "400", "429"}
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    assert not any(path.startswith("/ops/") for path in schema["paths"])
    assert schema == generated_schema()  # what schemathesis below is run against


@pytest.fixture
def world(eager, domain):
    """A user with a token, a post of theirs, a comment target, an image: ids worth aiming at."""
    domain.REST_FRAMEWORK = {**domain.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": UNLIMITED}
    domain.ALLOWED_HOSTS = ["*"]
    user, other = make_user(), make_user()
    post = Post.objects.create(author=user, content="The earth is flat")
    image = Image(owner=user, post=post)
    image.original.save("seed.png", ContentFile(image_bytes()), save=False)
    image.save()
    return {"user": user, "ids": {"post_id": post.pk, "user_id": other.pk, "image_id": image.pk}}


def generated_schema() -> dict:
    """The schema /api/schema/ serves, generated in process (schemathesis needs it at collection)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(generated_schema())


def call(case, world, live_server, headers: dict) -> None:
    """Aim two in three generated ids at rows that exist, then send the request and check the answer."""
    for name, real in world["ids"].items():
        value = case.path_parameters.get(name) if case.path_parameters else None
        if isinstance(value, int) and value % 3:
            case.path_parameters[name] = real
    case.call_and_validate(base_url=live_server.url, headers=headers, checks=[not_a_server_error], timeout=30)


BOUNDED = hypothesis.settings(
    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


# One test per operation, with the operation in its id: schemathesis's own ``schema.parametrize()`` gives
# every operation's test the same node id, which pytest-xdist (``make test``) folds into one test.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


def explore(operation, world, live_server, headers: dict) -> None:
    """Send ``EXAMPLES`` generated requests to ``operation``; hypothesis shrinks and reports a failure."""

    @BOUNDED
    @hypothesis.given(case=operation.as_strategy())
    def check(case):
        call(case, world, live_server, headers)

    check()


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_anonymous_request_gets_a_server_error(operation, world, live_server):
    explore(operation, world, live_server, {})


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_authenticated_request_gets_a_server_error(operation, world, live_server):
    explore(operation, world, live_server, {"Authorization": f"Token {world['user'].auth_token.key}"})
