"""``python -m compat import-celery``: a real Celery 5.7 producer (and a real Celery worker, SIGKILLed while
it holds countdown/ETA messages unacknowledged) fills a private Redis; the import moves every message into
compat's queues and a real compat worker runs each once, with the same id, arguments, retries and
priority; a second import moves nothing; the pickle message and the unknown task are dead letters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis

from tests.compat.conftest import ROOT, assert_no_swallowed_errors, start_worker, stop_worker

SEP = "\x06\x16"


@pytest.fixture(scope="module")
def server(private_redis):
    """The module's private redis-server, without a database: the Celery broker (db 1) and compat's (db 2)."""
    return private_redis.url.rsplit("/", 1)[0]


@pytest.fixture(scope="module")
def env(server):
    namespace = f"cut{uuid.uuid4().hex[:8]}"
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    return {
        **inherited,
        "PYTHONPATH": str(ROOT),
        "CUTOVER_CELERY_BROKER": f"{server}/1",
        "COMPAT_TEST_BROKER": f"{server}/2",
        "COMPAT_TEST_NS": namespace,
        "dramatiq_restart_delay": "500",
    }


def import_celery(env: dict, *args: str) -> subprocess.CompletedProcess:
    argv = [
        sys.executable,
        "-m",
        "compat",
        "import-celery",
        "--app",
        "tests.compat.cutover_app:app",
        "--from",
        env["CUTOVER_CELERY_BROKER"],
        "--no-progress",
        *args,
    ]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def celery_keys(client: redis.Redis) -> dict[bytes, object]:
    """Everything kombu keeps for messages: every list (queues and lanes) and the unacked hash."""
    state: dict[bytes, object] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"list":
            state[key] = client.lrange(key, 0, -1)
        elif key == b"unacked":
            state[key] = client.hgetall(key)
        elif key == b"unacked_index":
            state[key] = client.zrange(key, 0, -1)
    return state


def run_celery_worker(env: dict, client: redis.Redis, holding: int) -> subprocess.Popen:
    """A real Celery worker that takes the countdown/ETA messages; returns once it holds ``holding``."""
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.compat.cutover_celery",
        "worker",
        "-P",
        "solo",
        "--without-mingle",
        "--without-gossip",
        "-Q",
        "celery,other",
        "--loglevel",
        "WARNING",
    ]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while client.hlen("unacked") < holding:
        assert proc.poll() is None, "the Celery worker exited"
        assert time.monotonic() < deadline, "the Celery worker did not take the ETA messages"
        time.sleep(0.1)
    return proc


def test_import_celery_moves_every_message_once_and_dead_letters_what_it_cannot_carry(
    env, tmp_path, monkeypatch
):
    monkeypatch.setenv("CUTOVER_CELERY_BROKER", env["CUTOVER_CELERY_BROKER"])
    from tests.compat import cutover_celery as producer

    celery_redis = redis.Redis.from_url(env["CUTOVER_CELERY_BROKER"])
    compat_redis = redis.Redis.from_url(env["COMPAT_TEST_BROKER"])
    now = datetime.now(UTC)
    sent: dict[str, dict] = {}

    # 1. Countdown and ETA messages taken by a Celery worker that then dies: they stay in `unacked`.
    sent["countdown"] = {
        "r": producer.add.apply_async((1, 1), countdown=25),
        "args": [1, 1],
        "not_before": 25,
    }
    sent["eta"] = {
        "r": producer.add.apply_async((2, 2), eta=now + timedelta(seconds=27)),
        "args": [2, 2],
        "not_before": 27,
    }
    worker = run_celery_worker(env, celery_redis, holding=2)
    before = celery_keys(celery_redis)
    refused = import_celery(env)  # a live Celery worker: the import refuses and moves nothing
    assert refused.returncode == 2 and "stop them first" in refused.stderr
    assert celery_keys(celery_redis) == before
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    time.sleep(0.5)
    assert celery_redis.hlen("unacked") == 2 and celery_redis.zcard("unacked_index") == 2

    # 2. Queued messages: plain, priorities (kombu's `celery\x06\x163` and `\x06\x166` lanes), a short
    # countdown, another queue, a retried one, kwargs and custom types, a pickle body and an unknown task.
    sent["plain"] = {"r": producer.add.delay(3, 4), "args": [3, 4]}
    sent["priority5"] = {"r": producer.add.apply_async((5, 5), priority=5), "args": [5, 5], "priority": 5}
    sent["priority8"] = {"r": producer.add.apply_async((8, 8), priority=8), "args": [8, 8], "priority": 8}
    sent["short"] = {"r": producer.add.apply_async((6, 6), countdown=3), "args": [6, 6], "not_before": 3}
    sent["retried"] = {"r": producer.add.apply_async((7, 7), retries=2), "args": [7, 7], "retries": 2}
    sent["other"] = {
        "r": producer.other.apply_async((1,), {"when": now.isoformat(), "n": 2}, queue="other"),
        "args": [1],
        "kwargs": {"when": now.isoformat(), "n": 2},
        "queue": "other",
    }
    # A chain's first step: its message carries the rest (Celery's embed), which compat continues.
    last = (producer.add.s(1, 2) | producer.add.s(3)).apply_async()
    sent["chain first"] = {"r": last.parent, "args": [1, 2]}
    sent["chain second"] = {"r": last, "args": [3, 3]}  # not in Celery's Redis: compat's worker sends it
    pickled = producer.pickling.send_task("cut.add", args=(10, 20))
    unknown = producer.app.send_task("cut.nobody.knows", args=(1,))
    assert celery_redis.llen(f"celery{SEP}3") == 1 and celery_redis.llen(f"celery{SEP}6") == 1
    before = celery_keys(celery_redis)

    # 3. A dry run reports and changes nothing.
    dry = import_celery(env, "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert "would move 9 messages (celery 8, other 1; 2 unacknowledged or countdown/ETA)" in dry.stdout
    assert "would dead-letter 2" in dry.stdout
    assert celery_keys(celery_redis) == before
    assert not list(compat_redis.scan_iter(match=f"{env['COMPAT_TEST_NS']}:*"))

    # 4. The import empties Celery's keys: every lane, the unacked hash and its index.
    done = import_celery(env)
    assert done.returncode == 1, done.stderr
    assert "moved 9 messages (celery 8, other 1; 2 unacknowledged or countdown/ETA)" in done.stdout
    assert f"{pickled.id} cut.add [celery]: pickle body" in done.stdout
    assert f"{unknown.id} cut.nobody.knows [celery]: task 'cut.nobody.knows' is not registered" in done.stdout
    left = {key: value for key, value in celery_keys(celery_redis).items() if value}
    assert left == {}, left

    # 5. Running it again moves nothing.
    again = import_celery(env)
    assert again.returncode == 0 and again.stdout.startswith("moved 0 messages"), again.stdout + again.stderr

    # 6. A real compat worker runs each message once, with the same id and arguments.
    log = tmp_path / "worker.log"
    proc = start_worker(env, "tests.compat.cutover_app", log=log, queues=["celery", "other"])
    try:
        deadline = time.monotonic() + 60
        while compat_redis.llen(f"{env['COMPAT_TEST_NS']}:ran") < len(sent) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # anything that would run twice has had its chance
    finally:
        stop_worker(proc)
    assert_no_swallowed_errors(log)
    ran = [json.loads(item) for item in compat_redis.lrange(f"{env['COMPAT_TEST_NS']}:ran", 0, -1)]
    by_id = {record["id"]: record for record in ran}
    assert len(ran) == len(by_id) == len(sent), ran
    for label, expected in sent.items():
        record = by_id[expected["r"].id]
        assert record["args"] == expected["args"], label
        assert record["kwargs"] == expected.get("kwargs", {}), label
        assert record["retries"] == expected.get("retries", 0), label
        assert record["queue"] == expected.get("queue", "celery"), label
        if "priority" in expected:
            assert record["priority"] == expected["priority"], label
        if "not_before" in expected:
            assert record["at"] >= now.timestamp() + expected["not_before"] - 0.5, label
    assert pickled.id not in by_id and unknown.id not in by_id

    # 7. What it could not carry is in the dead-letter store, with the reason.
    from compat.deadletters import DeadLetterStore

    store = DeadLetterStore(compat_redis, env["COMPAT_TEST_NS"], retention=0)
    pickle_record, unknown_record = store.get(pickled.id), store.get(unknown.id)
    assert pickle_record["task"] == "cut.add" and "pickle body" in pickle_record["reason"]
    assert pickle_record["message"] is None and "x-python-serialize" in pickle_record["celery_message"]
    assert unknown_record["task"] == "cut.nobody.knows" and unknown_record["args"] == [1]
    assert "not registered" in unknown_record["reason"]

    # 8. And a third import, after the worker ran, still moves nothing.
    assert import_celery(env).stdout.startswith("moved 0 messages")


def test_an_interrupted_import_is_finished_by_the_next_run_without_duplicates(env):
    """Messages staged by a run that died (taken from Celery's keys, not yet recorded) are sent by the
    next run; a message whose id was already moved (put back by a Celery worker that restored what it
    held, say) is not sent again."""
    from compat.cutover.kombu_redis import CeleryRedis

    url = env["CUTOVER_CELERY_BROKER"].rsplit("/", 1)[0] + "/3"
    env = {**env, "CUTOVER_CELERY_BROKER": url, "COMPAT_TEST_NS": env["COMPAT_TEST_NS"] + "b"}
    from celery import Celery

    producer = Celery("cutover-interrupted", broker=url, set_as_current=False)
    ids = [producer.send_task("cut.add", args=(n, n)).id for n in range(5)]
    source = CeleryRedis(url)
    staged = source.claim(["celery"], 3)  # the run "dies" after staging 3 and recording 1
    assert len(staged) == 3 and len(source.staged()) == 3
    first = json.loads(staged[0].payload)["headers"]["id"]
    source.done(staged[0], first)
    source.client.lpush("celery", staged[0].payload)  # it comes back into Celery's queue
    done = import_celery(env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("moved 4 messages"), done.stdout
    assert "skipped 1 already moved by an earlier run" in done.stdout
    compat = redis.Redis.from_url(env["COMPAT_TEST_BROKER"])
    queued = [json.loads(raw)["message_id"] for raw in compat.hvals(f"{env['COMPAT_TEST_NS']}:celery.msgs")]
    assert sorted(queued) == sorted(i for i in ids if i != first)
    assert source.staged() == [] and source.pending(["celery"]) == 0
    source.close()


def test_bad_input_is_refused_and_changes_nothing(env):
    bad_app = import_celery({**env}, "--rename-queue", "nonsense")
    assert bad_app.returncode == 2 and "OLD=NEW" in bad_app.stderr
    argv = [
        sys.executable,
        "-m",
        "compat",
        "import-celery",
        "--app",
        "tests.compat.cutover_app",
        "--from",
        env["CUTOVER_CELERY_BROKER"],
    ]
    no_colon = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert no_colon.returncode == 2 and "module:attribute" in no_colon.stderr
    down = import_celery({**env, "CUTOVER_CELERY_BROKER": "redis://127.0.0.1:1/0"})
    assert down.returncode == 2 and "error" in down.stderr


def test_protocol_1_and_hostile_payloads_decode_to_something_reportable():
    import base64

    from compat.cutover.celery_message import Carried, Uncarriable, decode

    body = base64.b64encode(
        json.dumps(
            {"task": "cut.add", "id": "p1", "args": [1, 2], "kwargs": {}, "retries": 1, "eta": None}
        ).encode()
    ).decode()
    v1 = decode(
        json.dumps(
            {
                "body": body,
                "content-type": "application/json",
                "headers": {},
                "properties": {"body_encoding": "base64", "priority": 3},
            }
        ),
        "celery",
    )
    assert isinstance(v1, Carried) and (v1.task_id, v1.args, v1.options) == (
        "p1",
        [1, 2],
        {"retries": 1, "priority": 3},
    )
    for hostile in (
        "not json",
        "[]",
        json.dumps({"body": 5, "content-type": "application/json"}),
        json.dumps(
            {
                "body": "!!!",
                "content-type": "application/json",
                "properties": {"body_encoding": "base64"},
                "headers": {"task": "t", "id": "x"},
            }
        ),
        json.dumps(
            {
                "body": base64.b64encode(b"[1, 2]").decode(),
                "content-type": "application/json",
                "properties": {"body_encoding": "base64"},
                "headers": {"task": "t", "id": "x"},
            }
        ),
    ):
        assert isinstance(decode(hostile, "celery"), Uncarriable), hostile


def test_manage_py_import_celery_uses_the_projects_app(server, capsys):
    from celery import Celery
    from django.core.management import call_command

    url = f"{server}/5"
    Celery("cutover-django", broker=url, set_as_current=False).send_task(
        "threads.tasks.notify_followers", args=[1]
    )
    call_command("import_celery", "--from", url, "--dry-run", "--no-progress")
    out = capsys.readouterr().out
    assert out.startswith("would move 1 message (celery 1; 0 unacknowledged or countdown/ETA)"), out
    assert redis.Redis.from_url(url).llen("celery") == 1


def envelope(headers: dict, body: object, content_type: str = "application/json") -> str:
    """A kombu payload as Celery's Redis transport stores it."""
    import base64

    return json.dumps(
        {
            "body": base64.b64encode(json.dumps(body).encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": content_type,
            "headers": headers,
            "properties": {
                "body_encoding": "base64",
                "delivery_info": {"exchange": "", "routing_key": "celery"},
                "priority": 0,
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def test_a_message_that_cannot_be_sent_is_dead_lettered_and_the_next_run_is_not_stuck(env):
    """A forged or odd message (an ETA that is no date, 100,000 nested lists) is kept with the reason; the
    import neither crashes on it nor leaves it staged for ever."""
    url = env["CUTOVER_CELERY_BROKER"].rsplit("/", 1)[0] + "/6"
    env = {**env, "CUTOVER_CELERY_BROKER": url, "COMPAT_TEST_NS": env["COMPAT_TEST_NS"] + "c"}
    client = redis.Redis.from_url(url)
    client.lpush(
        "celery", envelope({"task": "cut.add", "id": "bad-eta", "eta": "tomorrow-ish"}, [[1, 2], {}, {}])
    )
    client.lpush("celery", "[" * 100_000 + "]" * 100_000)
    client.lpush("celery", envelope({"task": "cut.add", "id": "fine"}, [[1, 2], {}, {}]))
    done = import_celery(env)
    assert done.returncode == 1, done.stderr
    assert "moved 1 message" in done.stdout
    assert "bad-eta cut.add [celery]: cannot be sent: Invalid isoformat string: 'tomorrow-ish'" in done.stdout
    assert "? ? [celery]: not a kombu message: RecursionError" in done.stdout
    assert client.llen("celery") == 0 and client.llen("compat.import-celery.staging") == 0
    again = import_celery(env)
    assert again.returncode == 0 and again.stdout.startswith("moved 0 messages"), again.stdout + again.stderr


def test_the_apps_transport_options_say_where_celerys_messages_are(server):
    """A project whose Celery used ``sep``, ``global_keyprefix`` and ``priority_steps`` of its own: the import
    reads them from the app's ``broker_transport_options`` (flags still win)."""
    import argparse
    import io

    from celery import Celery as RealCelery

    from compat import Celery, cutover

    url = f"{server}/6"
    transport = {"sep": ":", "global_keyprefix": "pfx_", "priority_steps": [0, 5]}
    producer = RealCelery("cutover-transport", broker=url, set_as_current=False)
    producer.conf.broker_transport_options = transport
    producer.send_task("threads.tasks.notify_followers", args=[1], priority=5)
    producer.send_task("threads.tasks.notify_followers", args=[2])
    client = redis.Redis.from_url(url)
    assert {key.decode() for key in client.keys("pfx_celery*")} == {"pfx_celery", "pfx_celery:5"}

    def dry_run(app, *flags):
        parser = argparse.ArgumentParser()
        cutover.add_arguments(parser, app_required=False)
        out, err = io.StringIO(), io.StringIO()
        status = cutover.run(
            parser.parse_args(["--from", url, "--dry-run", "--no-progress", "--send-unregistered", *flags]),
            app=app,
            out=out,
            err=err,
        )
        return status, out.getvalue() + err.getvalue()

    configured = Celery("with-transport", broker=f"{server}/7", set_as_current=False)
    configured.conf.broker_transport_options = transport
    status, text = dry_run(configured)
    assert status == 0 and text.startswith("would move 2 messages (celery 2;"), text
    plain = Celery("without-transport", broker=f"{server}/7", set_as_current=False)
    status, text = dry_run(plain)
    assert text.startswith("would move 0 messages"), text  # kombu's defaults find none of them
    status, text = dry_run(plain, "--key-prefix", "pfx_", "--sep", ":", "--priority-steps", "0,5")
    assert text.startswith("would move 2 messages"), text
