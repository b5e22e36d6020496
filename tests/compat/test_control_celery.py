"""Differential: the replies of ``app.control``/``inspect()`` have real Celery 5.7's shapes and texts.

A real Celery worker (threads pool) runs the same task names as the compat worker group of
``test_control.py`` on its own Redis database; each check asks both the same question.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys

import pytest

from .conftest import ROOT
from .test_control import capp, control_env, group, running_on, scheduled_on, wait_until  # noqa: F401


def celery_db_url(url: str) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/1"


@pytest.fixture(scope="module")
def celery(worker_env, tmp_path_factory):
    hidden = pytest.MonkeyPatch()  # Celery lets env CELERY_BROKER_URL win over the app's URL: hide it
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        hidden.delenv(name, raising=False)
    env = {**worker_env, "CONTROL_CELERY_BROKER": celery_db_url(worker_env["COMPAT_TEST_BROKER"])}
    os.environ["CONTROL_CELERY_BROKER"] = env["CONTROL_CELERY_BROKER"]
    module = importlib.import_module("tests.compat.control_celery")
    log = open(tmp_path_factory.mktemp("celery") / "celery.log", "wb")  # noqa: SIM115
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.compat.control_celery",
        "worker",
        "-P",
        "threads",
        "-c",
        "2",
        "-Q",
        "control",
        "-n",
        "celery1@%h",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_until(lambda: module.app.control.ping(timeout=0.5), timeout=60, interval=0.2)
        yield module
    finally:
        module.app.control.purge()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        hidden.undo()


def one(replies):
    """The single node's reply of a ``[{node: reply}]`` list, checking that shape."""
    assert isinstance(replies, list) and len(replies) >= 1
    assert all(isinstance(item, dict) and len(item) == 1 for item in replies)
    return next(iter(replies[0].values()))


def node_of(celery):
    return next(iter(celery.app.control.ping()[0]))


def test_ping_and_unknown_destination(celery, capp, group):  # noqa: F811
    for app in (celery.app, capp.app):
        assert one(app.control.ping()) == {"ok": "pong"}
        assert app.control.ping(destination=["nobody@nowhere"], timeout=0.3) == []
        assert app.control.inspect(destination=["nobody@nowhere"], timeout=0.3).active() is None
        assert list(app.control.inspect().ping().values())[0] == {"ok": "pong"}


def test_active_entries_have_the_same_keys(celery, capp, group):  # noqa: F811
    entries = []
    for module in (celery, capp):
        result = module.spin.delay(12)  # still running after several inspect rounds on a loaded machine
        # Under load a late reply to an earlier inspect() can land in the next one's (Celery then merges
        # two replies of one node, DuplicateNodenameWarning): ask until the running task is listed.
        found = wait_until(
            lambda m=module, r=result: [
                t
                for tasks in (m.app.control.inspect().active() or {}).values()
                for t in tasks
                if t["id"] == r.id
            ],
            timeout=12,
        )
        entries.append(found[0])
        queried = wait_until(
            lambda m=module, r=result: {
                k: v
                for node in (m.app.control.inspect().query_task(r.id) or {}).values()
                for k, v in node.items()
            },
            timeout=12,
        )
        assert queried[result.id][0] == "active" and set(queried[result.id][1]) == set(found[0])
        result.get(timeout=30)
    theirs, ours = entries
    assert set(ours) == set(theirs)
    assert set(ours["delivery_info"]) == set(theirs["delivery_info"])
    assert (ours["name"], ours["args"], ours["kwargs"]) == (theirs["name"], theirs["args"], theirs["kwargs"])
    assert type(ours["time_start"]) is type(theirs["time_start"])


def test_scheduled_entries_have_the_same_keys(celery, capp, group):  # noqa: F811
    entries = []
    for module in (celery, capp):
        result = module.add.apply_async((1, 2), countdown=120)  # still scheduled after a slow wait
        entries.append(wait_until(lambda m=module, r=result: scheduled_on(m.app, r.id), timeout=30)[1])
        module.app.control.revoke(result.id)
    theirs, ours = entries
    assert set(ours) == set(theirs) == {"eta", "priority", "request"}
    assert set(ours["request"]) == set(theirs["request"])


def test_command_replies_have_the_same_texts(celery, capp, group):  # noqa: F811
    def replies(module, call):
        return one(call(module.app.control))

    calls = [
        lambda c: c.revoke("0123-fixed-id", reply=True),
        lambda c: c.revoke("0123-fixed-id", terminate=True, reply=True),
        lambda c: c.time_limit("tests.compat.control_app.spin", soft=10, hard=20, reply=True),
        lambda c: c.time_limit("no.such.task", soft=1, reply=True),
        lambda c: c.rate_limit("tests.compat.control_app.add", "100/s", reply=True),
        lambda c: c.rate_limit("tests.compat.control_app.add", None, reply=True),
        lambda c: c.rate_limit("no.such.task", "1/s", reply=True),
        lambda c: c.add_consumer("extra", reply=True),
        lambda c: c.cancel_consumer("extra", reply=True),
    ]
    for call in calls:
        assert replies(capp, call) == replies(celery, call)
    bad = [
        replies(module, lambda c: c.rate_limit("tests.compat.control_app.add", "fast", reply=True))
        for module in (celery, capp)
    ]
    assert all(reply["error"].startswith("Invalid rate limit string") for reply in bad)
    capp.app.control.time_limit("tests.compat.control_app.spin", soft=None, hard=None, reply=True)


def test_stats_registered_and_queues_have_the_same_shape(celery, capp, group):  # noqa: F811
    inspects = [module.app.control.inspect() for module in (celery, capp)]
    theirs, ours = (next(iter(i.stats().values())) for i in inspects)
    assert set(ours) == set(theirs)
    assert set(ours["rusage"]) <= set(theirs["rusage"])
    assert ours["pool"]["max-concurrency"] == theirs["pool"]["max-concurrency"] == 2
    # The earlier test's rate_limit(add, None) was answered, but a loaded Celery worker has been seen to
    # list add with its old "[rate_limit=100/s]" a moment longer: ask until neither lists a rate limit.
    def registered():
        found = [next(iter((i.registered() or {"-": []}).values())) for i in inspects]
        return found if not any("[rate_limit=" in name for names in found for name in names) else None

    theirs, ours = wait_until(registered)
    assert set(theirs) <= set(ours)  # compat also lists the other control-app tasks
    # The earlier test's cancel_consumer("extra") was answered, but a loaded Celery worker has been seen
    # to list "extra" a moment longer: ask until both list only the queue they were started on.
    def listed():
        found = [next(iter((i.active_queues() or {"-": []}).values())) for i in inspects]
        return found if all([q["name"] for q in queues] == ["control"] for queues in found) else None

    theirs, ours = wait_until(listed)
    assert set(ours[0]) <= set(theirs[0]) and set(ours[0]["exchange"]) <= set(theirs[0]["exchange"])


def test_purge_counts_the_same(celery, capp, group):  # noqa: F811
    """On an app whose default queue nobody consumes, both purge what waits there and count it.

    (Celery purges only the queues it would consume from, ``task_queues`` or the default queue; compat
    also purges the queues ``task_routes`` names: docs/compat.md, Remote control.)"""
    import celery as real_celery

    import compat

    apps = [
        real_celery.Celery("purge-celery", broker=celery.app.conf.broker_url, set_as_current=False),
        compat.Celery("purge-compat", broker=capp.app.conf.broker_url, set_as_current=False),
    ]
    apps[1].conf.broker_namespace = capp.NS + ":purge"
    counts = []
    for app in apps:
        app.conf.task_default_queue = "nobody-consumes"
        for n in range(5):
            app.send_task("tests.compat.control_app.parked", args=[n])
        counts.append(app.control.purge())
        counts.append(app.control.purge())
    assert counts == [5, 0, 5, 0]
