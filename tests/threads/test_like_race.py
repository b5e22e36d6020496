"""A like racing another like and an unlike of the same user and post, on the real database.

``get_or_create`` finds no row, another request's like commits, the insert then violates the
uniqueness constraint, an unlike commits, and the retried ``get`` finds nothing either: Django gives up
with ``IntegrityError`` (a 500). The counter stress test (tests/e2e) hit this under load. The like must
retry and report what it did.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from tests.threads.support import make_user
from threads.models import Like, Post
from threads.services import interactions

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # SQLite lets one connection write at a time: the other requests' commits cannot interleave there.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"),
]


def in_other_connection(work) -> None:
    """Run ``work`` in another thread, so on another database connection, and commit it."""
    error: list[BaseException] = []

    def run():
        try:
            work()
        except BaseException as exc:  # reported to the test below
            error.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not error, error


def test_like_racing_a_like_and_an_unlike_retries_instead_of_failing(domain):
    user = make_user()
    post = Post.objects.create(author=make_user(), content="raced")
    seen = {"insert": False, "unliked": False}

    def interleave(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "threads_like"') and not seen["insert"]:
            seen["insert"] = True  # another request's like commits just before ours inserts
            in_other_connection(lambda: Like.objects.create(user=user, post=post))
        elif seen["insert"] and not seen["unliked"] and 'FROM "threads_like"' in sql:
            seen["unliked"] = True  # ... and an unlike commits before get_or_create looks again
            in_other_connection(lambda: Like.objects.filter(user=user, post=post).delete())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(interleave):
        created = interactions.like(user, post)
    assert seen == {"insert": True, "unliked": True}, "the race was not staged"
    assert created is True
    assert Like.objects.filter(user=user, post=post).count() == 1
