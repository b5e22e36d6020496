"""Lease and run ledger on a real Redis (own key prefix per test, only those keys deleted)."""

import logging
from datetime import UTC, datetime, timedelta

from compat.schedules import schedule
from scheduler.daemon import Daemon
from scheduler.lease import Lease
from scheduler.misfire import MisfirePolicy
from scheduler.sources import Entry


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_lease_is_exclusive_and_renewable(redis_client, redis_namespace):
    key = f"{redis_namespace}leader"
    a, b = Lease(redis_client, key, ttl=3), Lease(redis_client, key, ttl=3)
    assert a.acquire() and a.is_held()
    assert not b.acquire() and not b.is_held()
    assert a.renew() and not b.renew()
    assert redis_client.get(key).decode() == a.token
    a.release()
    assert not a.is_held() and b.acquire()


def test_fencing_stops_firing_before_redis_expiry(redis_client, redis_namespace):
    clock = FakeClock()
    lease = Lease(redis_client, f"{redis_namespace}leader", ttl=4, margin=1, clock=clock)
    assert lease.acquire()
    clock.now += 2.9
    assert lease.is_held()
    clock.now += 0.2  # 3.1 s after the request left: past ttl - margin, Redis still holds it
    assert not lease.is_held()
    assert redis_client.pttl(lease.key) > 0


def test_lost_renewal_stops_firing_at_once(redis_client, redis_namespace):
    lease = Lease(redis_client, f"{redis_namespace}leader", ttl=3)
    assert lease.acquire()
    redis_client.set(lease.key, "someone-else")
    assert not lease.renew() and not lease.is_held()


def make_daemon(redis_client, prefix, sent, grace=60.0, coalesce=True):
    entry = Entry(
        name="tick",
        task="t.tick",
        schedule=schedule(1),
        kwargs={"k": 1},
        options={"queue": "q"},
        policy=MisfirePolicy(grace=grace, coalesce=coalesce),
    )

    def enqueue(name, args=None, kwargs=None, **options):
        sent.append((name, args, kwargs, options))

    return Daemon([entry], enqueue, redis_client, UTC, f"{prefix}sched", lease_ttl=3)


def at(second):
    return datetime(2025, 1, 1, 12, 0, second, tzinfo=UTC)


def test_standby_never_fires_and_leader_fires_once(redis_client, redis_namespace):
    sent_a, sent_b = [], []
    a = make_daemon(redis_client, redis_namespace, sent_a)
    b = make_daemon(redis_client, redis_namespace, sent_b)
    assert a.lease.acquire() and not b.lease.acquire()
    assert a.fire_due("tick", at(1), at(1)) == [at(1)]
    assert b.fire_due("tick", at(1), at(1)) == []
    assert a.fire_due("tick", at(1), at(1)) == []  # same tick again: already handled
    assert sent_b == [] and len(sent_a) == 1
    name, args, kwargs, options = sent_a[0]
    assert (name, args, kwargs, options["queue"]) == ("t.tick", [], {"k": 1}, "q")
    assert options["task_id"] == a.task_id(a.entries["tick"], at(1))


def test_new_leader_replays_the_gap_late_and_once(redis_client, redis_namespace, caplog):
    sent_a, sent_b = [], []
    a = make_daemon(redis_client, redis_namespace, sent_a)
    b = make_daemon(redis_client, redis_namespace, sent_b)
    assert a.lease.acquire()
    a.fire_due("tick", at(1), at(1))
    a.fire_due("tick", at(2), at(2))
    # a claimed tick 3 but "died" before recording it: the new leader must not send it again
    a.ledger.claim("tick", at(3), "x")
    redis_client.delete(a.lease.key)
    assert b.lease.acquire()
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        sent = b.fire_due("tick", at(6), at(6))
    assert sent == [at(4), at(5), at(6)]
    assert [s[3]["task_id"] for s in sent_b] == [b.task_id(b.entries["tick"], at(s)) for s in (4, 5, 6)]
    assert len([r for r in caplog.records if "enqueued late" in r.message]) == 1


def test_downtime_is_coalesced_and_logged_in_one_line(redis_client, redis_namespace, caplog):
    sent = []
    d = make_daemon(redis_client, redis_namespace, sent)
    assert d.lease.acquire()
    d.fire_due("tick", at(0), at(0))
    later = at(0) + timedelta(hours=3)
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        assert d.fire_due("tick", later, later) == [later]
    notes = [r.message for r in caplog.records if r.name == "scheduler" and r.levelno >= logging.WARNING]
    assert len(notes) == 1 and "10000+ runs due" in notes[0] and "coalesced into one run" in notes[0]
    assert d.ledger.last("tick") == later


def test_failed_enqueue_releases_its_claim(redis_client, redis_namespace):
    calls = []

    def flaky(name, args=None, kwargs=None, **options):
        calls.append(options["task_id"])
        if len(calls) == 1:
            raise ConnectionError("broker down")

    d = make_daemon(redis_client, redis_namespace, [])
    d.enqueue = flaky
    assert d.lease.acquire()
    try:
        d.fire_due("tick", at(1), at(1))
    except ConnectionError:
        pass
    assert d.fire_due("tick", at(1), at(1)) == [at(1)]
    assert len(calls) == 2


def test_restart_after_downtime_logs_one_line_for_all_entries(redis_client, redis_namespace, caplog):
    sent = []
    entries = [
        Entry(name=name, task=f"t.{name}", schedule=schedule(seconds), policy=MisfirePolicy())
        for name, seconds in (("fast", 1), ("slow", 60))
    ]
    d = Daemon(entries, lambda name, **kw: sent.append(name), redis_client, UTC, f"{redis_namespace}s", 3)
    down_since = datetime.now(UTC) - timedelta(hours=2)
    for entry in entries:
        d.ledger.advance(entry.name, down_since)
    assert d.lease.acquire()
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        d.catch_up()
    lines = [r.message for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "fast:" in lines[0] and "slow:" in lines[0]
    assert "coalesced into one run" in lines[0]
    assert sorted(sent) == ["t.fast", "t.slow"]


def test_the_first_tick_of_a_new_entry_is_not_lost_to_a_failover(redis_client, redis_namespace):
    """Regression: an entry never run skipped the catch-up: a first tick due while none led was lost."""
    sent_a, sent_b = [], []
    a = make_daemon(redis_client, redis_namespace, sent_a)
    b = make_daemon(redis_client, redis_namespace, sent_b)
    assert a.lease.acquire()
    now = datetime.now(UTC)
    a.ledger.mark_leading(now - timedelta(seconds=2.5), 6)  # a's last renewal, then it died
    redis_client.delete(a.lease.key)
    assert b.lease.acquire()
    b.catch_up(b.ledger.last_leading())
    scheduled = [s[3]["task_id"] for s in sent_b]
    assert len(scheduled) in (2, 3) and sent_a == []  # the 1 s ticks since a was last seen leading
    b.catch_up(b.ledger.last_leading())
    assert [s[3]["task_id"] for s in sent_b] == scheduled  # once


def test_a_fresh_start_replays_nothing(redis_client, redis_namespace):
    sent = []
    d = make_daemon(redis_client, redis_namespace, sent)
    assert d.lease.acquire() and d.ledger.last_leading() is None
    d.catch_up(d.ledger.last_leading())
    assert sent == []
