"""The counter store on real Redis: one HINCRBY per change, pending reads, the placeholder flush."""

from __future__ import annotations

import pytest

from tests.threads.support import make_user
from threads.models import Post
from threads.services import counters, redis_client
from threads.tasks import batch_update_counters

pytestmark = pytest.mark.django_db


@pytest.fixture
def posts(domain):
    author = make_user()
    return [Post.objects.create(author=author, content=f"p{i}") for i in range(3)]


def test_increment_and_pending(posts):
    a, b, _ = posts
    counters.increment(a.pk, "likes_count", 1)
    counters.increment(a.pk, "likes_count", 1)
    counters.increment(a.pk, "comments_count", 1)
    counters.increment(b.pk, "likes_count", -1)
    assert counters.pending([a.pk, b.pk, 999]) == {
        a.pk: {"likes_count": 2, "comments_count": 1},
        b.pk: {"likes_count": -1},
        999: {},
    }
    assert counters.current(a) == {"likes_count": 2, "comments_count": 1}
    with pytest.raises(ValueError):
        counters.increment(a.pk, "views", 1)


def test_flush_applies_deltas_and_keeps_later_increments(posts, eager):
    a, b, c = posts
    counters.increment(a.pk, "likes_count", 3)
    counters.increment(b.pk, "comments_count", 2)
    assert batch_update_counters.delay().get() == {"posts": 2, "claims": 2}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.likes_count, b.comments_count) == (3, 2)
    assert counters.pending([a.pk, b.pk]) == {a.pk: {}, b.pk: {}}
    counters.increment(a.pk, "likes_count", 1)  # lands after the claim: a new hash, flushed next time
    assert counters.flush() == {"posts": 1, "claims": 1}
    a.refresh_from_db()
    assert a.likes_count == 4
    assert counters.flush() == {"posts": 0, "claims": 0}


def test_a_claim_left_by_a_dead_flush_is_applied_by_the_next(posts):
    a = posts[0]
    counters.increment(a.pk, "likes_count", 5)
    client = redis_client.client()
    client.rename(counters.post_key(a.pk), redis_client.key("claim", "deadrun", a.pk))  # claimed, then died
    counters.increment(a.pk, "likes_count", 1)
    assert counters.flush() == {"posts": 1, "claims": 2}
    a.refresh_from_db()
    assert a.likes_count == 6
