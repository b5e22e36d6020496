"""The counter flush on real Redis and the test database: atomic claims, exactly-once application,
recovery from a flush that died before or after its commit, the lease, and old claim records."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from tests.threads.support import make_user
from threads.models import AppliedCounterClaim, Post
from threads.services import counters, redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def posts(domain):
    author = make_user()
    return [Post.objects.create(author=author, content=f"p{i}") for i in range(4)]


def columns(post):
    post.refresh_from_db()
    return post.likes_count, post.comments_count


def claim_only():
    """The first half of a flush: claim every dirty hash (then 'die')."""
    return counters._claim_dirty(redis_client.client(), 1000)


def test_flush_moves_deltas_once_and_records_its_claims(posts):
    a, b, *_ = posts
    for _ in range(3):
        counters.increment(a.pk, "likes_count", 1)
    counters.increment(b.pk, "comments_count", 2)
    counters.increment(b.pk, "likes_count", 1)
    counters.increment(b.pk, "likes_count", -1)  # nets to zero: no update needed
    assert counters.flush() == {"posts": 2, "claims": 2}
    assert columns(a) == (3, 0) and columns(b) == (0, 2)
    assert a.counters_claim == b.counters_claim > 0
    assert AppliedCounterClaim.objects.filter(seq=a.counters_claim, posts=2).exists()
    client = redis_client.client()
    assert not client.exists(counters.claim_key(a.counters_claim))
    assert not client.smembers(counters._claims_set())
    assert counters.pending([a.pk, b.pk]) == {a.pk: {}, b.pk: {}}
    assert counters.flush() == {"posts": 0, "claims": 0}


def test_claims_are_batched_and_updates_grouped(posts):
    for post in posts:
        counters.increment(post.pk, "likes_count", 1)
    result = counters.flush(batch=2)
    assert result == {"posts": 4, "claims": 4}
    seqs = sorted(AppliedCounterClaim.objects.values_list("seq", flat=True))
    assert len(seqs) >= 2  # 4 hashes, 2 per claim (SCAN may split them further)
    assert [columns(p)[0] for p in posts] == [1, 1, 1, 1]


def test_a_flush_that_died_before_commit_leaves_its_claim_for_the_next(posts):
    a = posts[0]
    counters.increment(a.pk, "likes_count", 5)
    [seq] = claim_only()  # claimed, then the process died
    counters.increment(a.pk, "likes_count", 1)  # a new live hash meanwhile
    assert counters.counts([a.pk])[a.pk]["likes_count"] == 6  # readers still see the claimed deltas
    assert counters.flush() == {"posts": 1, "claims": 2}
    assert columns(a) == (6, 0)
    assert AppliedCounterClaim.objects.filter(seq=seq).exists()


def test_a_flush_that_died_after_commit_is_not_applied_twice(posts):
    a, b = posts[:2]
    counters.increment(a.pk, "likes_count", 2)
    counters.increment(b.pk, "comments_count", 1)
    client = redis_client.client()
    seqs = claim_only()
    counters._apply(counters._load(client, seqs))  # committed; died before deleting the claims
    assert client.exists(*[counters.claim_key(s) for s in seqs]) == len(seqs)
    # The claims are still in Redis, but the columns already hold them: readers count them once.
    assert counters.counts([a.pk, b.pk]) == {
        a.pk: {"likes_count": 2, "comments_count": 0},
        b.pk: {"likes_count": 0, "comments_count": 1},
    }
    counters.increment(a.pk, "likes_count", 1)
    assert counters.flush() == {"posts": 1, "claims": 1, "skipped": len(seqs)}
    assert columns(a) == (3, 0) and columns(b) == (0, 1)
    assert not client.exists(*[counters.claim_key(s) for s in seqs])


def test_a_late_overlapping_apply_changes_nothing(posts):
    a = posts[0]
    counters.increment(a.pk, "likes_count", 4)
    client = redis_client.client()
    seqs = claim_only()
    stale = counters._load(client, seqs)  # run A has loaded its claim, then stalls past its lease
    assert counters.flush() == {"posts": 1, "claims": 1}  # run B applies A's claim as a leftover
    assert counters._apply(stale) == {"posts": 0, "claims": 0, "skipped": 1}  # A wakes up
    assert columns(a) == (4, 0)


def test_concurrent_increments_during_flushes_are_all_applied(posts):
    """Writer threads hammer HINCRBY while this thread flushes back to back: nothing lost or doubled."""
    per_thread = 1500

    def write(post):
        for i in range(per_thread):
            counters.increment(post.pk, "likes_count", 1 if i % 3 else -1)

    writers = [threading.Thread(target=write, args=(p,)) for p in posts]
    for t in writers:
        t.start()
    runs = 0
    while any(t.is_alive() for t in writers):
        runs += counters.flush(batch=2)["claims"] > 0
    for t in writers:
        t.join()
    counters.flush()
    expected = per_thread - 2 * len(range(0, per_thread, 3))
    assert [columns(p)[0] for p in posts] == [expected] * len(posts)
    assert runs > 1


def test_the_lease_keeps_runs_apart_and_expires(posts):
    counters.increment(posts[0].pk, "likes_count", 1)
    client = redis_client.client()
    client.set(counters._lease_key(), "someone-else", px=300)
    assert counters.flush() == {"posts": 0, "claims": 0, "busy": 1}
    assert columns(posts[0]) == (0, 0)
    client.pexpire(counters._lease_key(), 1)
    import time

    time.sleep(0.05)
    assert counters.flush() == {"posts": 1, "claims": 1}
    assert not client.exists(counters._lease_key())


def test_old_claim_records_are_cleaned_but_the_newest_kept(posts, settings):
    settings.THREADS_COUNTER_CLAIM_RETENTION = 60
    for _ in range(3):
        counters.increment(posts[0].pk, "likes_count", 1)
        counters.flush()
    seqs = sorted(AppliedCounterClaim.objects.values_list("seq", flat=True))
    assert len(seqs) == 3
    AppliedCounterClaim.objects.update(applied_at=timezone.now() - timedelta(hours=2))
    counters.flush()
    assert list(AppliedCounterClaim.objects.values_list("seq", flat=True)) == [seqs[-1]]


def test_a_lost_claim_counter_restarts_above_every_recorded_claim(posts):
    a = posts[0]
    counters.increment(a.pk, "likes_count", 1)
    counters.flush()
    recorded = AppliedCounterClaim.objects.get().seq
    redis_client.client().delete(counters._seq_key())  # e.g. Redis restarted without that key
    counters.increment(a.pk, "likes_count", 1)
    assert counters.flush() == {"posts": 1, "claims": 1}  # not mistaken for the recorded claim
    assert columns(a) == (2, 0)
    assert AppliedCounterClaim.objects.order_by("-seq").first().seq > recorded


def test_flush_uses_scan_with_a_match_not_keys(posts, redis_client):
    before = _calls(redis_client, "keys")
    counters.increment(posts[0].pk, "likes_count", 1)
    counters.flush()
    assert _calls(redis_client, "keys") == before and _calls(redis_client, "scan") > 0


def _calls(client, command: str) -> int:
    return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def test_a_flush_cut_off_by_a_redis_outage_does_not_hold_the_lease_after_it(posts, settings, tmp_path,
                                                                              monkeypatch):
    """Redis stops mid-flush and comes back with its data: the next flush runs at once, not a minute later
    (the lease's TTL), and applies every delta once."""
    from threads.redis_server import PrivateRedis
    from threads.services.counters import flushing

    server = PrivateRedis(tmp_path / "redis", durable=True).start()
    try:
        settings.THREADS_REDIS_URL = server.url
        settings.THREADS_COUNTER_FLUSH_LEASE = 60
        a = posts[0]
        counters.increment(a.pk, "likes_count", 2)
        real_apply = flushing._apply

        def apply_then_outage(claims):
            outcome = real_apply(claims)  # committed; Redis goes away before the claims are released
            server.stop()
            return outcome

        monkeypatch.setattr(flushing, "_apply", apply_then_outage)
        with pytest.raises(redis.ConnectionError):
            counters.flush()
        monkeypatch.setattr(flushing, "_apply", real_apply)
        server.start()
        client = redis_client.client()
        assert client.pttl(counters._lease_key()) > 50_000  # the lease outlived the outage in Redis
        deadline = time.monotonic() + 10
        while (outcome := counters.flush()).get("busy") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert outcome == {"posts": 0, "claims": 0, "skipped": 1}  # not busy: the claim found applied
        assert columns(a) == (2, 0)
        counters.increment(a.pk, "likes_count", 1)
        assert counters.flush() == {"posts": 1, "claims": 1}
        assert columns(a) == (3, 0)
    finally:
        server.stop()
