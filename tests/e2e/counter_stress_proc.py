"""Child processes of tests/e2e/test_counter_stress.py (run as ``python -m tests.e2e.counter_stress_proc``).

``writer SEED OPS THREADS USERS POSTS``: OPS likes, unlikes and comments through the service layer
(``threads.services.interactions``, the code the API views call) from THREADS threads; prints a JSON
summary. ``flusher INTERVAL LEASE``: boots, waits for a line on stdin, then runs ``counters.flush()`` every
INTERVAL seconds, forever, with two steps of a flush slowed down a little so that a SIGKILL from the
test lands inside a flush; counts completed flushes in Redis.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "threads.settings")
    import django

    django.setup()


def writer(seed: int, ops: int, threads: int, users: list[int], posts: list[int]) -> None:
    from django.contrib.auth import get_user_model
    from django.db import OperationalError, connection

    from threads.models import Post
    from threads.services import interactions

    User = get_user_model()  # noqa: N806
    totals = {"like": 0, "unlike": 0, "comment": 0, "changed": 0, "retries": 0}
    errors: list[str] = []
    lock = threading.Lock()

    def guarded(index: int, count: int) -> None:
        """A thread that dies must say why (the test reports it), not just leave its operations out."""
        try:
            run(index, count)
        except BaseException:
            import traceback

            with lock:
                errors.append(traceback.format_exc())

    def run(index: int, count: int) -> None:
        rng = random.Random(seed * 1000 + index)
        mine = dict.fromkeys(totals, 0)
        for i in range(count):
            user, post = User(pk=rng.choice(users)), Post(pk=rng.choice(posts))
            roll = rng.random()
            kind = "like" if roll < 0.45 else "unlike" if roll < 0.75 else "comment"
            for _attempt in range(5):
                try:
                    if kind == "like":
                        mine["changed"] += interactions.like(user, post)
                    elif kind == "unlike":
                        mine["changed"] += interactions.unlike(user, post)
                    else:
                        interactions.comment(user, post, f"c{seed}.{index}.{i}")
                        mine["changed"] += 1
                    break
                except OperationalError:  # SQLite: busy past its timeout; the transaction rolled back
                    mine["retries"] += 1
                    time.sleep(0.05)
            else:
                raise RuntimeError(f"{kind} kept failing")
            mine[kind] += 1
        connection.close()
        with lock:
            for key, value in mine.items():
                totals[key] += value

    per = [ops // threads + (1 if i < ops % threads else 0) for i in range(threads)]
    workers = [threading.Thread(target=guarded, args=(i, n)) for i, n in enumerate(per)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    print(json.dumps({**totals, "errors": errors}), flush=True)


def flusher(interval: float, lease: float) -> None:
    from threads.services import counters

    def slowed(step, pause):
        def wrapper(*args, **kwargs):
            time.sleep(pause)
            return step(*args, **kwargs)

        return wrapper

    # Widen the two windows that matter: claimed but not committed, committed but not released.
    # (patched where the flush looks them up: its own module)
    counters.flushing._apply = slowed(counters.flushing._apply, 0.03)
    counters.flushing._release = slowed(counters.flushing._release, 0.1)
    from threads.services import redis_client

    sys.stdin.readline()  # booted as a standby; the test says when to take over
    print(f"{os.getpid()} flushing", flush=True)
    client = redis_client.client()
    while True:
        started = time.monotonic()
        result = counters.flush(lease=lease)
        if not result.get("busy"):
            client.incr(redis_client.key("stress-flushes"))
        print(f"{os.getpid()} {time.monotonic() - started:.3f}s {result}", flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    setup()
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "writer":
        writer(int(args[0]), int(args[1]), int(args[2]), json.loads(args[3]), json.loads(args[4]))
    else:
        flusher(float(args[0]), float(args[1]))
