"""Tasks for the compat integration tests: imported by the test process and by a real worker.

Broker and namespaces come from the environment so that each test session uses its own keys.
"""

from __future__ import annotations

import json
import os
import time

from compat import Celery

app = Celery(
    "workerapp",
    broker=os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("COMPAT_TEST_BACKEND") or os.environ.get("COMPAT_TEST_BROKER", "redis://127.0.0.1:6379/0"),
    set_as_current=False,
)
app.conf.update(
    broker_namespace=os.environ.get("COMPAT_TEST_NS", "compat-test"),
    result_namespace=os.environ.get("COMPAT_TEST_NS", "compat-test") + "-res",
    task_default_queue="default",
    task_routes={"tests.compat.worker_app.routed_*": {"queue": "routed"}, "remote.only": "remote"},
    result_extended=True,
    broker_heartbeat_timeout=float(os.environ.get("COMPAT_TEST_HEARTBEAT_TIMEOUT", 60)),
    broker_maintenance_interval=float(os.environ.get("COMPAT_TEST_MAINTENANCE_INTERVAL", 10)),
    worker_max_redeliveries=int(os.environ.get("COMPAT_TEST_MAX_REDELIVERIES", 3)),
    task_default_queue_type=os.environ.get("COMPAT_TEST_QUEUE_TYPE", "classic"),
    alert_webhook_url=os.environ.get("COMPAT_TEST_ALERT_WEBHOOK") or None,
    alert_digest_seconds=int(os.environ.get("COMPAT_TEST_ALERT_WINDOW", 60)),
    stores_url=os.environ.get("COMPAT_TEST_STORES") or None,
)


def _redis():
    """The Redis the tasks below record in: the stores' (the result backend's, or ``stores_url``'s)."""
    from compat.stores import redis_for

    return redis_for(app)

for _queue in filter(None, os.environ.get("COMPAT_TEST_EXTRA_QUEUES", "").split(",")):
    app.broker.declare_queue(_queue)


class CustomError(Exception):
    """A user's exception class, rebuilt on the caller's side."""


@app.task
def add(x, y):
    return x + y


@app.task
def fail(message="boom"):
    raise ValueError(message)


@app.task
def raise_custom(value):
    raise CustomError(value)


@app.task(bind=True, max_retries=3, default_retry_delay=0.2)
def retry_until(self, attempts):
    if self.request.retries < attempts:
        raise self.retry(exc=KeyError("later"))
    return self.request.retries


@app.task(bind=True, max_retries=1, default_retry_delay=0.1)
def retry_without_exc(self):
    raise self.retry()


@app.task(
    autoretry_for=(ConnectionError,),
    retry_backoff=0.1,
    retry_jitter=False,
    max_retries=2,
    retry_backoff_max=1,
)
def autoretried(key):
    raise ConnectionError(key)


@app.task(track_started=True)
def sleeper(seconds):
    time.sleep(seconds)
    return seconds


@app.task
def routed_echo(value):
    return value


@app.task(bind=True)
def whoami(self):
    request = self.request
    return {
        "id": request.id,
        "retries": request.retries,
        "queue": request.delivery_info["routing_key"],
        "is_eager": request.is_eager,
        "root_id": request.root_id,
        "parent_id": request.parent_id,
        "hostname": request.hostname,
    }


@app.task
def unencodable():
    return object()


@app.task
def get_inside(task_id):
    return app.AsyncResult(task_id).get(timeout=1)


@app.task(ignore_result=True)
def ignored(x):
    return x


@app.task(bind=True)
def progress(self):
    self.update_state(state="PROGRESS", meta={"done": 1})
    time.sleep(0.5)
    return "finished"


@app.task
def record_order(label, key):
    """Append ``label`` to a Redis list, to observe execution order."""
    _redis().rpush(key, label)
    return label


@app.task
def tsum(values, extra=0):
    return sum(values) + extra


@app.task(soft_time_limit=0.3)
def overrun(seconds):
    from compat.exceptions import SoftTimeLimitExceeded

    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        return "cleaned up"
    return "finished"


@app.task
def pair(x):
    return [x, x * 2]


@app.task
def slow_once(key, seconds):
    """Record which process starts it, take ``seconds`` on the first run only; record completion.

    A re-run (after its first worker was killed) is quick, so a test may give the first run long
    enough that a loaded machine cannot finish it before the kill lands.
    """
    client = app.backend.client
    if client.rpush(key + ":started", os.getpid()) == 1:
        time.sleep(seconds)
    client.rpush(key + ":done", os.getpid())
    return os.getpid()


@app.task
def suicide(key):
    """A poison task: it kills the process that runs it, every time."""
    import signal

    app.backend.client.rpush(key, os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


@app.task
def fail_once(key):
    """Fails the first time (marking ``key``), succeeds when run again."""
    if app.backend.client.set(key, "1", nx=True, ex=600):
        raise RuntimeError("first run fails")
    return "second run"


@app.task(rate_limit="10/s")
def limited(n):
    return time.time()


@app.task
def chord_body(values, index, key):
    app.backend.client.rpush(key, json.dumps([index, values]))
    return index


@app.task(bind=True)
def chord_body_seen(self, values, index, key):
    """``chord_body`` that also records which send of the body this is (the token its sender gave it) and
    whether the broker delivered this message before (its worker died holding it)."""
    from dramatiq.middleware import CurrentMessage

    send = CurrentMessage.get_current_message().options.get("chord_send")
    redelivered = self.request.delivery_info["redelivered"]
    app.backend.client.rpush(key, json.dumps([index, values, send, redelivered]))
    return index


def _crash_around_chord_bodies(point: str) -> None:
    """``COMPAT_TEST_CRASH_CHORD=before|after``: the worker process that sends a chord body SIGKILLs itself
    just before (or just after) the publish, once per body, so the header member that completed the chord
    is redelivered (tests/compat/test_rabbitmq_chord_race.py)."""
    import multiprocessing
    import signal

    from compat import signals

    def crash(sender=None, headers=None, **kwargs):
        if sender != chord_body_seen.name or multiprocessing.parent_process() is None:
            return  # only in a worker process, never in the test process sending the chords
        marker = f"{app.conf.broker_namespace}:crashed-at-body:{headers['id']}"
        if app.backend.client.set(marker, os.getpid(), nx=True, ex=600):
            os.kill(os.getpid(), signal.SIGKILL)

    hook = signals.before_task_publish if point == "before" else signals.after_task_publish
    hook.connect(crash, weak=False)


if os.environ.get("COMPAT_TEST_CRASH_CHORD"):
    _crash_around_chord_bodies(os.environ["COMPAT_TEST_CRASH_CHORD"])


def _kill_with_waiting_acks(key: str) -> None:
    """``COMPAT_TEST_KILL_WITH_WAITING_ACKS=<key>``: the first worker process to hold three or more
    acknowledgements that no call has sent yet (finished tasks, waiting for the consumer's next fetch)
    pushes their Redis ids to ``<key>`` and SIGKILLs itself (tests/compat/test_batched_acks.py)."""
    import multiprocessing
    import signal

    from compat.brokers.redis.acks import PendingAcks

    original = PendingAcks.ack

    def ack(self, list_name, rid):
        original(self, list_name, rid)
        with self.lock:  # held to the end: no fetch can take the waiting ones meanwhile
            waiting = [waiting_rid for _, waiting_rid in self.waiting]
            if len(waiting) >= 3 and multiprocessing.parent_process() is not None:
                if app.backend.client.set(key + ":killed", os.getpid(), nx=True, ex=600):
                    app.backend.client.rpush(key, *waiting)
                    os.kill(os.getpid(), signal.SIGKILL)

    PendingAcks.ack = ack


if os.environ.get("COMPAT_TEST_KILL_WITH_WAITING_ACKS"):
    _kill_with_waiting_acks(os.environ["COMPAT_TEST_KILL_WITH_WAITING_ACKS"])


def _kill_with_waiting_states(key: str) -> None:
    """``COMPAT_TEST_KILL_WITH_WAITING_STATES=<key>``: the first worker process whose state writer holds
    three or more success writes not sent yet (each with its message's acknowledgement) pushes their
    task ids to ``<key>`` and SIGKILLs itself (tests/compat/test_batched_acks.py)."""
    import multiprocessing
    import signal

    from compat.results.writer import StateWriter

    def submit(self, script, keys, args):
        with self.lock:  # held to the end: the writer cannot take the waiting ones meanwhile
            self.waiting.append((script, keys, args))
            if len(self.waiting) >= 3 and multiprocessing.parent_process() is not None:
                if app.backend.client.set(key + ":killed", os.getpid(), nx=True, ex=600):
                    ids = [meta_key.rsplit(":", 1)[1] for _, (meta_key, *_), _ in self.waiting]
                    app.backend.client.rpush(key, *ids)
                    os.kill(os.getpid(), signal.SIGKILL)
        self.wake.set()

    StateWriter.submit = submit


if os.environ.get("COMPAT_TEST_KILL_WITH_WAITING_STATES"):
    _kill_with_waiting_states(os.environ["COMPAT_TEST_KILL_WITH_WAITING_STATES"])


@app.task(ignore_result=True)
def note_run(key, index):
    """Records ``<Redis id> <index>`` of each run (a redelivered message keeps its Redis id)."""
    from dramatiq.middleware import CurrentMessage

    rid = CurrentMessage.get_current_message().options["redis_message_id"]
    app.backend.client.rpush(key, f"{rid} {index}")


@app.task
def note_run_stored(key, index):
    """``note_run`` with its result stored: ``<task id> <index>`` per run."""
    from dramatiq.middleware import CurrentMessage

    app.backend.client.rpush(key, f"{CurrentMessage.get_current_message().message_id} {index}")
    return index


@app.task
def fuzz_target(*args, **kwargs):
    """Accepts any arguments and records that it ran (by the Redis id of its message), for the
    hostile-message tests."""
    from dramatiq.middleware import CurrentMessage

    rid = CurrentMessage.get_current_message().options["redis_message_id"]
    app.backend.client.sadd(f"{app.conf.broker_namespace}:fuzz:ran", rid)


@app.task
def kill_worker_thread(key):
    """Ends the worker thread that runs it once it is back waiting for work, as an unexpected error in
    Dramatiq's thread loop would (an asynchronous SystemExit in that thread)."""
    import ctypes
    import threading

    thread_id = threading.get_ident()
    app.backend.client.rpush(key, os.getpid())

    def inject():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(SystemExit))

    threading.Timer(0.2, inject).start()


@app.task
def gate(key, timeout=60.0):
    """Hold a worker thread until ``key`` exists in Redis (a backlog piles up behind it meanwhile)."""
    client = _redis()
    deadline = time.monotonic() + timeout
    while not client.exists(key) and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(client.exists(key))


class _DiesInAfterReturnOnce(app.Task):
    """Kills its worker process in ``after_return`` the first time (after the SUCCESS is stored)."""

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        import signal

        client = app.backend.client
        if client.set(args[0] + ":killed", os.getpid(), nx=True, ex=600):
            os.kill(os.getpid(), signal.SIGKILL)
        client.rpush(args[0] + ":after_return", os.getpid())


@app.task(base=_DiesInAfterReturnOnce)
def dies_in_after_return_once(key):
    return os.getpid()


@app.task
def publish_child_and_count():
    """Publishes an ``add`` from inside a task and returns whether this worker process's broker pipelines
    sends and what it still owes RabbitMQ: a worker waits for each confirm, so nothing
    (tests/compat/test_worker_integration_rabbitmq.py)."""
    child = add.delay(1, 1)
    broker = app.broker
    return {"child": child.id, "pipelines": broker.pipelines, "unconfirmed": broker.unconfirmed()}
