"""``manage.py recount_counters``: counts recomputed from rows, drift fixed and reported, pending
deltas kept."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.threads.support import make_user
from threads.models import Comment, Like, Post
from threads.services import counters, redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(domain):
    author, fans = make_user(), [make_user() for _ in range(3)]
    posts = [Post.objects.create(author=author, content=f"p{i}") for i in range(3)]
    for fan in fans:
        Like.objects.create(user=fan, post=posts[0])
    Comment.objects.create(post=posts[1], author=fans[0], content="c")
    return posts


def recount(*args: str) -> str:
    out = io.StringIO()
    call_command("recount_counters", *args, stdout=out)
    return out.getvalue()


def test_recount_fixes_drift_and_reports_it(setup):
    a, b, c = setup
    Post.objects.filter(pk=a.pk).update(likes_count=1)  # drift: 3 likes, column 1, nothing pending
    counters.increment(b.pk, "comments_count", 1)  # b is right: column 0 + pending 1 = 1 row
    Post.objects.filter(pk=c.pk).update(comments_count=5)  # drift the other way
    out = recount()
    assert f"post {a.pk} likes_count: 1 -> 3" in out
    assert f"post {c.pk} comments_count: 5 -> 0" in out
    assert "fixed 2 counter(s) on 2 post(s)" in out
    assert counters.counts([a.pk, b.pk, c.pk]) == {
        a.pk: {"likes_count": 3, "comments_count": 0},
        b.pk: {"likes_count": 0, "comments_count": 1},
        c.pk: {"likes_count": 0, "comments_count": 0},
    }
    assert recount().strip() == "fixed 0 counter(s) on 0 post(s)"


def test_recount_applies_claims_and_live_deltas_first(setup):
    a = setup[0]
    Post.objects.filter(pk=a.pk).update(likes_count=10)
    counters.increment(a.pk, "likes_count", 2)
    counters._claim_dirty(redis_client.client(), 1000)  # a claim left by a dead flush
    counters.increment(a.pk, "likes_count", -1)  # and a live delta
    assert f"post {a.pk} likes_count: 11 -> 3" in recount(str(a.pk))
    a.refresh_from_db()
    assert a.likes_count == 3 and counters.pending([a.pk]) == {a.pk: {}}
    assert not redis_client.client().smembers(counters._claims_set())


def test_recount_subtracts_deltas_still_pending(setup):
    """A delta that is still live when a post is recounted stays pending; the column takes the rest."""
    a = setup[0]
    counters.increment(a.pk, "likes_count", 1)
    state = counters.read_redis([a.pk])
    from threads.models import Comment, Like

    drift = counters._recount_chunk([a.pk], False, Comment, Like, Post)
    assert state.live == {a.pk: {"likes_count": 1}}
    assert drift == [counters.Drift(a.pk, "likes_count", 1, 3)]
    a.refresh_from_db()
    assert a.likes_count == 2 and counters.counts([a.pk])[a.pk]["likes_count"] == 3


def test_recount_some_posts_and_dry_run(setup):
    a, b, _ = setup
    Post.objects.filter(pk__in=[a.pk, b.pk]).update(likes_count=7)
    out = recount("--dry-run", str(b.pk))
    assert out.splitlines() == [
        f"post {b.pk} likes_count: 7 -> 0",
        f"post {b.pk} comments_count: 0 -> 1",
        "would fix 2 counter(s) on 1 post(s)",
    ]
    assert Post.objects.get(pk=b.pk).likes_count == 7
    recount(str(b.pk))
    assert (Post.objects.get(pk=a.pk).likes_count, Post.objects.get(pk=b.pk).likes_count) == (7, 0)
    assert Post.objects.get(pk=b.pk).comments_count == 1
