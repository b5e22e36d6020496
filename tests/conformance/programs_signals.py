"""Signal and handler programs (issue 16): which task signals and handlers fire, in which order, with
which keyword arguments, eagerly and on real workers.

The tasks' module records every task signal and every ``Tracked`` handler under the program's key
(``stacks/*_tasks.py``); a program returns that trail. In worker mode the trail is complete once
``task_postrun`` of the last execution is in (``trail``).
"""

from __future__ import annotations

import time

from tests.conformance.harness import program

T = 10


def trail(ns, key, postruns=1, settle=0.3):
    """The records under ``key`` once ``postruns`` task_postrun rows are in (then ``settle`` s more)."""
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        rows = ns.records(key, wait=0)
        if sum(1 for row in rows if row[0] == "task_postrun") >= postruns:
            break
        time.sleep(0.02)
    time.sleep(settle)
    return ns.records(key, wait=0)


def names(rows, skip=()):
    """The signal and handler names in order; with ``RACY``, without what two processes race to record."""
    found = [row[0] for row in rows]
    if skip and "after_task_publish" in found:
        found.remove("after_task_publish")  # the caller's: a fast worker may start before it is recorded
    return [name for name in found if name not in skip]


# The caller's after_task_publish and a retry's task_received (the worker's main process) are recorded
# while another process records too (Celery itself orders them either way): order programs leave them out.
RACY = ("task_received",)


def run(ns, task, *args, postruns=1, stores_result=True, **kwargs):
    """Call ``task``, wait for its result, then for its trail. A task that raises ``Ignore`` stores no
    result (``stores_result=False``): its ``get()`` could only time out, so only the trail is awaited."""
    key = ns.key("sig")
    result = task.apply_async((key, *args), kwargs)
    if stores_result:
        ns.get(result, propagate=False)
    return key, result, trail(ns, key, postruns)


# -- order -------------------------------------------------------------------------------------------
@program("signals")
def signal_order_success(ns):
    return names(run(ns, ns.sig_add, 2, 3)[2], RACY)


@program("signals")
def signal_order_failure(ns):
    return names(run(ns, ns.sig_fail)[2], RACY)


@program("signals")
def signal_order_retry_then_success(ns):
    return names(run(ns, ns.sig_retry, postruns=2)[2], RACY)


@program("signals")
def signal_order_retry_exhausted(ns):
    return names(run(ns, ns.sig_retry_exhaust, postruns=2)[2], RACY)


@program("signals")
def signal_order_ignore(ns):
    return names(run(ns, ns.sig_ignore, stores_result=False)[2], RACY)


@program("signals")
def signal_order_autoretry(ns):
    return names(run(ns, ns.sig_autoretry, postruns=2)[2], RACY)


@program("signals")
def signal_order_plain_task(ns):
    return names(run(ns, ns.sig_plain, 7)[2], RACY)


@program("signals")
def signal_order_child_task(ns):
    return names(run(ns, ns.sig_spawn, postruns=2, settle=0.6)[2], RACY)


# -- what each signal carries ------------------------------------------------------------------------
def rows_named(rows, name):
    return [row[1:] for row in rows if row[0] == name]


@program("signals")
def prerun_kwargs(ns):
    return rows_named(run(ns, ns.sig_add, 2, 3)[2], "task_prerun")


@program("signals")
def postrun_kwargs_success(ns):
    return rows_named(run(ns, ns.sig_add, 2, 3)[2], "task_postrun")


@program("signals")
def postrun_kwargs_failure(ns):
    return rows_named(run(ns, ns.sig_fail, "bad")[2], "task_postrun")


@program("signals")
def postrun_kwargs_retry(ns):
    return rows_named(run(ns, ns.sig_retry, postruns=2)[2], "task_postrun")


@program("signals")
def postrun_kwargs_ignore(ns):
    return rows_named(run(ns, ns.sig_ignore, stores_result=False)[2], "task_postrun")


@program("signals")
def success_kwargs(ns):
    return rows_named(run(ns, ns.sig_add, 2, 3)[2], "task_success")


@program("signals")
def success_kwargs_keyword_args(ns):
    key = ns.key("sig")
    ns.get(ns.sig_kwargs.apply_async((key,), {"scale": 5}), propagate=False)
    rows = trail(ns, key)
    return rows_named(rows, "task_success") + rows_named(rows, "task_prerun")


@program("signals")
def failure_kwargs(ns):
    return rows_named(run(ns, ns.sig_fail, "bad")[2], "task_failure")


@program("signals")
def retry_kwargs(ns):
    return rows_named(run(ns, ns.sig_retry, postruns=2)[2], "task_retry")


@program("signals")
def retry_exhausted_failure_kwargs(ns):
    return rows_named(run(ns, ns.sig_retry_exhaust, postruns=2)[2], "task_failure")


@program("signals", modes=("worker",))
def publish_kwargs(ns):
    rows = run(ns, ns.sig_add, 2, 3)[2]
    return rows_named(rows, "before_task_publish") + rows_named(rows, "after_task_publish")


@program("signals", modes=("worker",))
def publish_routed_queue(ns):
    key = ns.key("sig")
    ns.get(ns.sig_plain.apply_async((key, 1), queue="conf_routed"), propagate=False)
    rows = trail(ns, key)
    return [row[7] for row in rows if row[0].endswith("_publish")]


@program("signals", modes=("worker",))
def received_kwargs(ns):
    return rows_named(run(ns, ns.sig_add, 2, 3)[2], "task_received")


# -- handlers ----------------------------------------------------------------------------------------
def handler_rows(rows):
    """The publish and handler rows, each after_task_publish right after its before_task_publish.

    The sender records after_task_publish once the broker took the message, while a worker may
    already be running it and recording handlers (Celery too orders them either way); pairing the
    publish rows keeps every row and what each carries, without that race.
    """
    rows = [row for row in rows if not row[0].startswith("task_")]
    afters = [row for row in rows if row[0] == "after_task_publish"]
    paired = []
    for row in rows:
        if row[0] == "after_task_publish":
            continue
        paired.append(row)
        if row[0] == "before_task_publish" and afters:
            paired.append(afters.pop(0))
    return paired + afters


@program("signals")
def handlers_success(ns):
    return handler_rows(run(ns, ns.sig_add, 2, 3)[2])


@program("signals")
def handlers_failure_einfo(ns):
    return handler_rows(run(ns, ns.sig_fail, "bad")[2])


@program("signals")
def handlers_retry_einfo(ns):
    return handler_rows(run(ns, ns.sig_retry, postruns=2)[2])


@program("signals")
def handlers_retry_exhausted(ns):
    return handler_rows(run(ns, ns.sig_retry_exhaust, postruns=2)[2])


@program("signals")
def handlers_ignore(ns):
    return handler_rows(run(ns, ns.sig_ignore, stores_result=False)[2])


@program("signals")
def outcome_with_handlers(ns):
    key = ns.key("sig")
    results = [ns.sig_add.delay(key, 1, 2), ns.sig_fail.delay(key, "x")]
    values = [str(ns.get(r, propagate=False)) for r in results]
    return [values, [r.state for r in results]]


# -- task_sent: deprecated, still sent by Celery 5.7 (after after_task_publish, in the sending process) --
def _sent_while(ns, send):
    """What ``task_sent`` (and the publish signals, for order) carried while ``send()`` ran here."""
    import importlib

    signals = importlib.import_module(f"{ns.name}.signals")
    seen: list = []

    def sent(sender=None, **kwargs):
        names = sorted(k for k in kwargs if k != "signal")
        seen.append(["task_sent", sender, names, kwargs["task"], list(kwargs["args"]), kwargs["kwargs"],
                     kwargs["eta"], kwargs["task_id"], kwargs["taskset"]])

    def published(sender=None, **kwargs):
        seen.append([kwargs["signal"].name, sender])

    signals.task_sent.connect(sent, weak=False)
    signals.after_task_publish.connect(published, weak=False)
    try:
        outcome = send()
    finally:
        signals.task_sent.disconnect(sent)
        signals.after_task_publish.disconnect(published)
    return seen, outcome


@program("signals")
def task_sent_kwargs_and_order(ns):
    seen, result = _sent_while(ns, lambda: ns.add.apply_async((2, 3), {}))
    ns.get(result)
    return [[*row[:7], row[7] == result.id, row[8]] if row[0] == "task_sent" else row for row in seen]


@program("signals")
def task_sent_in_a_group_carries_the_group_id(ns):
    seen, result = _sent_while(ns, lambda: ns.group(ns.add.s(1, 1), ns.add.s(2, 2)).apply_async())
    ns.get(result)
    rows = [row for row in seen if row[0] == "task_sent"]
    return [[row[3], row[4], row[8] == result.id, row[7] in [r.id for r in result.results]] for row in rows]
