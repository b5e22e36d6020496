"""Counter flush throughput and what a like costs: ``python -m bench.counter_flush [--posts N]``.

Starts a private Redis (or uses ``--redis-url``, touching only keys under a unique prefix) and creates a
scratch database with Django's test-database machinery: SQLite by default, PostgreSQL when
``DATABASE_URL`` is postgres (``bench_counters_<pid>``, dropped at the end). Prints two tables:

1. flush: ``--posts`` dirty posts (default 100,000), each with its own deltas, flushed by one
   ``counters.flush()``; time per step (claim, load, apply in one transaction, release) and posts/s.
   The columns are checked against the deltas afterwards.
2. like: the service-layer like with and without its counter increment (p50/p95), the Redis commands
   and round trips it sends (from ``INFO commandstats``, so from the server's side), and a counter read.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000, help="dirty posts to flush (default 100,000)")
    parser.add_argument("--batch", type=int, default=1000, help="hashes per claim (flush's batch=)")
    parser.add_argument("--likes", type=int, default=1000, help="likes timed per variant (default 1,000)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", ""))
    args = parser.parse_args(argv)

    from threads.redis_server import PrivateRedis

    server = None
    if not args.redis_url:
        server = PrivateRedis(Path(tempfile.mkdtemp(prefix="bench-counters-"))).start()
        args.redis_url = server.url
    os.environ.update(
        DJANGO_SETTINGS_MODULE="threads.settings",
        THREADS_REDIS_URL=args.redis_url,
        THREADS_REDIS_PREFIX=f"bench-counters-{uuid.uuid4().hex[:8]}:",
        DJANGO_DEBUG="false",
    )
    import django

    django.setup()
    from django.db import connection

    if connection.vendor == "postgresql":  # never the test suite's test_<name>: someone may be using it
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_counters_{os.getpid()}"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        print(f"database: {connection.vendor} ({name}); redis: {args.redis_url}\n")
        print(render(flush_table(args.posts, args.batch)))
        print()
        print(render(like_table(args.likes)))
    finally:
        _drop_keys()
        connection.creation.destroy_test_db(name, verbosity=0)
        if server is not None:
            server.stop()
    return 0


def _drop_keys() -> None:
    from threads.services import redis_client

    client = redis_client.client()
    keys = list(client.scan_iter(match=redis_client.key("*"), count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def render(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


# --- flush ---------------------------------------------------------------------------------------------


def flush_table(n: int, batch: int) -> list[tuple[str, ...]]:
    from django.contrib.auth import get_user_model
    from django.db.models import Sum

    from threads.models import Post
    from threads.services import counters, redis_client

    author = get_user_model().objects.create_user("bench-author")
    started = time.perf_counter()
    for start in range(0, n, 5000):
        Post.objects.bulk_create(
            [Post(author=author, content=f"bench {i}") for i in range(start, min(n, start + 5000))]
        )
    ids = list(Post.objects.order_by("pk").values_list("pk", flat=True))
    setup = time.perf_counter() - started
    rng, client, want = random.Random(6), redis_client.client(), [0, 0]
    started = time.perf_counter()
    with client.pipeline(transaction=False) as pipe:
        for i, post_id in enumerate(ids):
            likes, comments = rng.randint(-1, 4), rng.randint(0, 2)
            pipe.hincrby(counters.post_key(post_id), "likes_count", likes)
            if comments:
                pipe.hincrby(counters.post_key(post_id), "comments_count", comments)
            want[0], want[1] = want[0] + likes, want[1] + comments
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
    dirty = time.perf_counter() - started

    steps = {name: 0.0 for name in ("_leftovers", "_claim_dirty", "_load", "_apply", "_release")}
    originals = {name: getattr(counters, name) for name in steps}

    def timed(name):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return originals[name](*args, **kwargs)
            finally:
                steps[name] += time.perf_counter() - t0

        return run

    for name in steps:
        setattr(counters, name, timed(name))
    try:
        t0 = time.perf_counter()
        result = counters.flush(batch=batch)
        total = time.perf_counter() - t0
    finally:
        for name, fn in originals.items():
            setattr(counters, name, fn)
    got = Post.objects.aggregate(likes=Sum("likes_count"), comments=Sum("comments_count"))
    exact = [got["likes"], got["comments"]] == want and result["claims"] == n
    rows = [
        ("flush of dirty posts", "seconds", "note"),
        ("create posts (setup)", f"{setup:.2f}", f"{n:,} rows"),
        ("HINCRBY deltas (setup)", f"{dirty:.2f}", "pipelined"),
        (
            "claim: SCAN + Lua move",
            f"{steps['_leftovers'] + steps['_claim_dirty']:.2f}",
            f"{n:,} hashes, {batch:,} per claim",
        ),
        ("load claims (HGETALL)", f"{steps['_load']:.2f}", ""),
        (
            "apply: one transaction",
            f"{steps['_apply']:.2f}",
            f"{result['posts']:,} rows, grouped F() updates (SQLite) or UPDATE ... FROM unnest (PostgreSQL)",
        ),
        ("release claims", f"{steps['_release']:.2f}", "DEL + SREM in MULTI"),
        ("flush() total", f"{total:.2f}", f"{n / total:,.0f} posts/s; target < 5 s"),
        (
            "columns == deltas",
            "yes" if exact else "NO",
            f"likes {got['likes']:,}, comments {got['comments']:,}",
        ),
    ]
    counters.flush()  # nothing left: a no-op run
    return rows


# --- like ----------------------------------------------------------------------------------------------


class RoundTrips:
    """Counts what the client sends (a pipeline or a script is one send) and what the server runs."""

    def __init__(self, client) -> None:
        import redis.connection

        self.client, self.sends, self.cls = client, 0, redis.connection.Connection

    def _commands(self) -> dict[str, int]:
        stats = self.client.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}

    def measure(self, fn) -> tuple[int, dict[str, int]]:
        before, original = self._commands(), self.cls.send_packed_command

        def counting(conn, *args, **kwargs):
            self.sends += 1
            return original(conn, *args, **kwargs)

        self.sends = 0
        self.cls.send_packed_command = counting
        try:
            fn()
        finally:
            self.cls.send_packed_command = original
        after = self._commands()
        ran = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        ran["info"] -= 1  # the first INFO counts itself
        return self.sends, {k: v for k, v in ran.items() if v}


def like_table(n: int) -> list[tuple[str, ...]]:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from threads.models import Like, Post
    from threads.services import counters, interactions, redis_client

    users = [get_user_model().objects.create_user(f"bench-liker-{i}") for i in range(2 * n // 50 + 2)]
    posts = list(Post.objects.order_by("pk")[:50])
    pairs = [(u, p) for u in users for p in posts]
    plain, counted = pairs[:n], pairs[n : 2 * n]
    client = redis_client.client()

    def row_only(user, post):
        with transaction.atomic():
            Like.objects.get_or_create(user=user, post=post)

    def timings(fn, items) -> list[float]:
        out = []
        for user, post in items:
            t0 = time.perf_counter()
            fn(user, post)
            out.append(time.perf_counter() - t0)
        return out

    base = timings(row_only, plain)
    with_counter = timings(interactions.like, counted)
    hincrby = []
    for _ in range(n):
        t0 = time.perf_counter()
        counters.increment(posts[0].pk, "likes_count", 0)
        hincrby.append(time.perf_counter() - t0)
    read = []
    for _ in range(n):
        t0 = time.perf_counter()
        counters.counts([posts[0].pk])
        read.append(time.perf_counter() - t0)
    spare_user = get_user_model().objects.create_user("bench-liker-spare")
    trips = RoundTrips(client)
    like_trips, like_ran = trips.measure(lambda: interactions.like(spare_user, posts[0]))
    read_trips, read_ran = trips.measure(lambda: counters.counts([p.pk for p in posts]))

    def ms(samples, q):
        value = statistics.quantiles(samples, n=20)[18] if q == 95 else statistics.median(samples)
        return f"{value * 1e3:.3f}"

    def ran(commands):
        return ", ".join(f"{k} x{v}" for k, v in commands.items())

    added = (statistics.median(with_counter) - statistics.median(base)) * 1e3
    return [
        ("per like", "p50 ms", "p95 ms", "Redis round trips", "commands run by Redis"),
        ("row change only (Like get_or_create)", ms(base, 50), ms(base, 95), "0", ""),
        (
            "service like: row + HINCRBY after commit",
            ms(with_counter, 50),
            ms(with_counter, 95),
            str(like_trips),
            ran(like_ran),
        ),
        ("  added by the counter (p50)", f"{added:.3f}", "", "target: 1", ""),
        ("HINCRBY alone", ms(hincrby, 50), ms(hincrby, 95), "1", "hincrby x1"),
        ("read counts, 1 post (Lua + SELECT)", ms(read, 50), ms(read, 95), "1", ""),
        (f"read counts, {len(posts)} posts (a page)", "", "", str(read_trips), ran(read_ran)),
    ]


if __name__ == "__main__":
    sys.exit(main())
