"""Reads show column + every delta not yet in the column, at every step of a flush, and the write path
does one increment after commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.threads.support import client_for, make_user
from threads.models import Comment, Like, Post
from threads.services import counters, interactions, redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(domain):
    return Post.objects.create(author=make_user(), content="count me")


def shown(post) -> tuple[int, int]:
    body = client_for().get(f"/api/posts/{post.pk}").json()
    return body["likes_count"], body["comments_count"]


def test_reads_are_exact_before_during_and_after_each_flush_step(post):
    client = redis_client.client()
    counters.increment(post.pk, "likes_count", 3)
    counters.increment(post.pk, "comments_count", 1)
    assert shown(post) == (3, 1)  # live hash only
    seqs = counters._claim_dirty(client, 1000)
    counters.increment(post.pk, "likes_count", 1)
    assert shown(post) == (4, 1)  # claim (unapplied) + a new live hash
    counters._apply(counters._load(client, seqs))
    assert shown(post) == (4, 1)  # claim applied, not yet deleted: counted once, from the column
    counters._release(client, seqs)
    assert shown(post) == (4, 1)
    counters.flush()
    assert shown(post) == (4, 1)
    post.refresh_from_db()
    assert (post.likes_count, post.comments_count) == (4, 1)


def test_a_whole_flush_between_the_redis_read_and_the_row_read(post):
    """The reader's Redis read, then a complete flush, then its row read: still exact, not doubled."""
    counters.increment(post.pk, "likes_count", 2)
    counters.flush()
    counters.increment(post.pk, "likes_count", 5)
    state = counters.read_redis([post.pk])  # sees live +5
    counters.flush()  # claims the +5 with a newer seq and applies it
    post.refresh_from_db()
    assert post.counters_claim > state.seq
    assert post.likes_count + state.unapplied(post.pk, post.counters_claim).get("likes_count", 0) == 7


def test_a_flush_that_commits_between_the_redis_read_and_the_row_read(post):
    """Claimed before the Redis read, applied after it: the claim is counted from the column only."""
    client = redis_client.client()
    counters.increment(post.pk, "likes_count", 2)
    seqs = counters._claim_dirty(client, 1000)
    counters.increment(post.pk, "likes_count", 1)
    state = counters.read_redis([post.pk])  # sees claim (2) and live (1)
    counters._apply(counters._load(client, seqs))
    post.refresh_from_db()
    assert post.likes_count + state.unapplied(post.pk, post.counters_claim)["likes_count"] == 3


def test_feed_and_list_show_pending_deltas(post):
    reader = make_user()
    counters.increment(post.pk, "likes_count", 2)
    counters._claim_dirty(redis_client.client(), 1000)
    counters.increment(post.pk, "comments_count", 1)
    listed = {p["id"]: p for p in client_for().get("/api/posts").json()}
    assert (listed[post.pk]["likes_count"], listed[post.pk]["comments_count"]) == (2, 1)
    from threads.models import Follow

    Follow.objects.create(follower=reader, followee=post.author)
    feed = {p["id"]: p for p in client_for(reader).get("/api/feed").json()}
    assert (feed[post.pk]["likes_count"], feed[post.pk]["comments_count"]) == (2, 1)


def test_like_unlike_comment_each_do_one_increment_after_commit(post, django_capture_on_commit_callbacks):
    user = make_user()
    key = counters.post_key(post.pk)
    client = redis_client.client()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert interactions.like(user, post) is True
    assert len(callbacks) == 1 and client.hgetall(key) == {b"likes_count": b"1"}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert interactions.like(user, post) is False  # already liked: no row, no increment
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert interactions.unlike(user, post) is True
        interactions.comment(user, post, "hi")
    assert len(callbacks) == 2
    assert client.hgetall(key) == {b"likes_count": b"0", b"comments_count": b"1"}
    assert (Like.objects.count(), Comment.objects.count()) == (0, 1)


def test_a_rolled_back_like_changes_no_counter(post, django_capture_on_commit_callbacks):
    user = make_user()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            interactions.like(user, post)
            raise RuntimeError("the request failed after the like")
    assert callbacks == [] and not redis_client.client().exists(counters.post_key(post.pk))
    assert not Like.objects.exists()
