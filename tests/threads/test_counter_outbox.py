"""Counter deltas through the outbox: exact through a Redis outage, never added twice (real Redis)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from compat.contrib.django import outbox
from compat.contrib.django.models import OutboxEntry
from tests.helpers import free_port
from tests.threads.support import client_for, make_user
from threads.models import Comment, Like, Post
from threads.services import counter_outbox, counters, interactions

pytestmark = pytest.mark.django_db


def test_a_delta_is_added_once_however_often_it_is_delivered(domain):
    post = Post.objects.create(author=make_user(), content="p")
    payload = {"post": post.pk, "field": "likes_count", "delta": 1}
    assert counter_outbox.add_once("e1", payload) is True
    assert counter_outbox.add_once("e1", payload) is False  # the same entry again
    assert counter_outbox.add_once("e2", payload) is True
    assert counters.pending([post.pk]) == {post.pk: {"likes_count": 2}}
    with pytest.raises(ValueError):
        counter_outbox.increment_on_commit(post.pk, "views", 1)


def test_likes_and_comments_commit_with_their_deltas(domain, django_capture_on_commit_callbacks):
    author, liker = make_user(), make_user()
    post = Post.objects.create(author=author, content="p")
    with django_capture_on_commit_callbacks(execute=True):
        assert interactions.like(liker, post) and interactions.comment(liker, post, "hi")
    assert counters.pending([post.pk]) == {post.pk: {"likes_count": 1, "comments_count": 1}}
    assert OutboxEntry.objects.count() == 0  # delivered at once, then deleted


def test_redis_outage_loses_and_doubles_nothing(domain, django_capture_on_commit_callbacks):
    author, liker, other = make_user(), make_user(), make_user()
    post = Post.objects.create(author=author, content="p")
    up = domain.THREADS_REDIS_URL
    domain.THREADS_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # Redis is down
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(liker).post(f"/api/posts/{post.pk}/comments", {"content": "c"}, format="json")
        assert interactions.like(liker, post) and interactions.like(other, post)
        assert interactions.unlike(other, post)
    assert response.status_code == 201, response.content  # committed, so 201
    assert Comment.objects.filter(post=post).count() == 1 and Like.objects.filter(post=post).count() == 1
    waiting = OutboxEntry.objects.filter(kind=counter_outbox.KIND)
    assert waiting.count() == 4 and waiting.filter(due_at__gt=timezone.now()).count() == 0
    shown = client_for().get(f"/api/posts/{post.pk}").json()  # reads work: columns + waiting deltas
    assert (shown["likes_count"], shown["comments_count"]) == (1, 1)
    assert outbox.relay_once().unavailable  # still down: nothing lost
    assert waiting.count() == 4
    domain.THREADS_REDIS_URL = up  # Redis is back
    assert outbox.relay_once().sent == 4 and waiting.count() == 0
    assert counters.pending([post.pk]) == {post.pk: {"likes_count": 1, "comments_count": 1}}
    counters.flush()
    post.refresh_from_db()
    assert (post.likes_count, post.comments_count) == (1, 1)
    assert counters.counts([post.pk]) == {post.pk: {"likes_count": 1, "comments_count": 1}}


def test_an_entry_delivered_twice_counts_once(domain, django_capture_on_commit_callbacks):
    """A relay that died after the HINCRBY but before deleting the entry delivers it again."""
    post = Post.objects.create(author=make_user(), content="p")
    with django_capture_on_commit_callbacks(execute=False):  # the committing process died
        interactions.like(make_user(), post)
    entry = OutboxEntry.objects.get()
    counter_outbox.add_once(str(entry.pk), entry.payload)  # delivered, but the row stayed
    OutboxEntry.objects.update(due_at=timezone.now())
    assert outbox.relay_once().sent == 1 and OutboxEntry.objects.count() == 0
    assert counters.pending([post.pk]) == {post.pk: {"likes_count": 1}}


def test_recount_first_adds_waiting_deltas_and_refuses_while_redis_is_down(
    domain, django_capture_on_commit_callbacks
):
    import io

    from django.core.management import CommandError, call_command

    post = Post.objects.create(author=make_user(), content="p")
    up = domain.THREADS_REDIS_URL
    domain.THREADS_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    with django_capture_on_commit_callbacks(execute=True):
        interactions.like(make_user(), post)
    with pytest.raises(CommandError, match="1 counter delta"):
        call_command("recount_counters", stdout=io.StringIO())
    domain.THREADS_REDIS_URL = up
    out = io.StringIO()
    call_command("recount_counters", stdout=out)  # adds the waiting delta, then finds nothing to fix
    assert "fixed 0 counter(s)" in out.getvalue() and OutboxEntry.objects.count() == 0
    post.refresh_from_db()
    assert post.likes_count == 1 and counters.counts([post.pk])[post.pk]["likes_count"] == 1
