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
#: Rows handler programs leave out: the task signals, and the caller's after_task_publish, which a worker
#: may outrun (on RabbitMQ the publish returns once confirmed, by when the worker often has the task).
UNORDERED = ("task_", "after_task_publish")


def run(ns, task, *args, postruns=1, **kwargs):
    key = ns.key("sig")
    result = task.apply_async((key, *args), kwargs)
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
    return names(run(ns, ns.sig_ignore)[2], RACY)


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
    return rows_named(run(ns, ns.sig_ignore)[2], "task_postrun")


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
@program("signals")
def handlers_success(ns):
    return [row for row in run(ns, ns.sig_add, 2, 3)[2] if not row[0].startswith(UNORDERED)]


@program("signals")
def handlers_failure_einfo(ns):
    return [row for row in run(ns, ns.sig_fail, "bad")[2] if not row[0].startswith(UNORDERED)]


@program("signals")
def handlers_retry_einfo(ns):
    return [row for row in run(ns, ns.sig_retry, postruns=2)[2] if not row[0].startswith(UNORDERED)]


@program("signals")
def handlers_retry_exhausted(ns):
    return [row for row in run(ns, ns.sig_retry_exhaust, postruns=2)[2] if not row[0].startswith(UNORDERED)]


@program("signals")
def handlers_ignore(ns):
    return [row for row in run(ns, ns.sig_ignore)[2] if not row[0].startswith(UNORDERED)]


@program("signals")
def outcome_with_handlers(ns):
    key = ns.key("sig")
    results = [ns.sig_add.delay(key, 1, 2), ns.sig_fail.delay(key, "x")]
    values = [str(ns.get(r, propagate=False)) for r in results]
    return [values, [r.state for r in results]]
