"""Task class programs (issue 16): ``task_cls``, ``base=`` classes overriding ``apply_async`` and
``__call__`` on every path Celery sends through them, handlers, class attribute defaults,
``task_annotations``, ``current_task``, ``Task.replace`` and the fidelity items, eagerly and on real workers.

The tasks are in ``stacks/*_classes.py``. ``ContextTask`` (DefectDojo's pattern) adds the sender's user
to the kwargs in ``apply_async`` and runs the task as that user in ``__call__``: what a task reports as
its user says which path sent it (``nobody``: an ``apply_async`` outside any user, e.g. a worker's
canvas continuation; None: a path that did not go through ``apply_async`` at all).
"""

from __future__ import annotations

from tests.conformance.harness import program
from tests.conformance.programs_signals import RACY, names, trail

T = 10


# -- task_cls and base classes -----------------------------------------------------------------------
@program("classes", expect=[True, True, "app-task", True])
def task_cls_string_is_every_tasks_base(ns):
    return [isinstance(ns.add, ns.AppTask), issubclass(ns.app.Task, ns.AppTask), ns.add.stamp,
            isinstance(ns.ctx_step, ns.AppTask)]


@program("classes")
def override_direct_call(ns):
    with ns.as_user("alice"):
        return ns.ctx_step([], "a")


@program("classes")
def override_delay(ns):
    with ns.as_user("alice"):
        result = ns.ctx_step.delay([], "a")
    return result.get(timeout=T)


@program("classes")
def override_apply_async_kwargs_reach_the_request(ns):
    with ns.as_user("alice"):
        return ns.ctx_request.apply_async(("r",)).get(timeout=T)


@program("classes")
def override_signature_delay(ns):
    with ns.as_user("alice"):
        result = ns.ctx_step.s([], "a").delay()
    return result.get(timeout=T)


@program("classes")
def override_signature_apply_async(ns):
    with ns.as_user("alice"):
        result = ns.ctx_step.s([]).apply_async(("b",), countdown=0.01)
    return result.get(timeout=T)


@program("classes")
def override_chain(ns):
    with ns.as_user("alice"):
        result = ns.chain(ns.ctx_step.s([], "a"), ns.ctx_step.s("b"), ns.ctx_step.s("c")).apply_async()
    return [result.get(timeout=T), result.parent.get(timeout=T)]


@program("classes")
def override_group(ns):
    with ns.as_user("alice"):
        result = ns.group(ns.ctx_step.s([], "a"), ns.ctx_step.s([], "b")).apply_async()
    return result.get(timeout=T)


@program("classes")
def override_chord(ns):
    with ns.as_user("alice"):
        result = ns.chord([ns.ctx_step.s([], "a"), ns.ctx_step.s([], "b")], ns.ctx_collect.s()).apply_async()
    return result.get(timeout=T)


@program("classes", modes=("worker",))  # an eager callback has no stored result to read
def override_link_callback(ns):
    callback = ns.ctx_step.s("linked").set(task_id=str(__import__("uuid").uuid4()))
    with ns.as_user("alice"):
        result = ns.ctx_step.apply_async(([], "a"), link=callback)
    return [result.get(timeout=T), ns.get(ns.AsyncResult(callback.id))]


@program("classes")
def override_retry_resend(ns):
    with ns.as_user("alice"):
        result = ns.ctx_retry.delay("r")
    return [ns.get(result, propagate=False), result.state]


@program("classes")
def override_plain_task_in_chain_with_override(ns):
    with ns.as_user("alice"):
        result = (ns.add.s(1, 2) | ns.ctx_collect.s()).apply_async()
    return ns.get(result)


# -- class attribute defaults ------------------------------------------------------------------------
def _attrs(task):
    return [task.ignore_result, task.acks_late, task.track_started, task.typing, task.priority,
            bool(task.store_errors_even_if_ignored), task.max_retries, task.default_retry_delay]


@program("classes", expect=[[False, False, False, True, None, False, 3, 180],
                            [False, True, True, False, 4, False, 3, 180]])
def task_attribute_defaults(ns):
    return [_attrs(ns.plain_attrs), _attrs(ns.set_attrs)]


@program("classes", modes=("eager",), expect=[None, True, 6])
def task_priority_reads_the_default_priority_setting(ns):
    before = ns.plain_attrs.priority
    with ns.conf(task_default_priority=6):
        def fresh_priority():
            return None

        fresh = ns.app.task(name="conformance.fresh_priority")(fresh_priority)
        return [before, fresh.priority == 6, fresh.priority]


@program("classes")
def signature_name(ns):
    sig = ns.add.s(1, 2)
    return [sig.name, sig.task, ns.signature("conformance.named").name]


# -- annotations ---------------------------------------------------------------------------------------
@program("classes", expect=[5, 180, "star"])
def annotation_dict_and_star(ns):
    return ns.anno_attrs.apply_async().get(timeout=T)


@program("classes", expect={"eager": None, "worker": "conf_routed"})
def annotation_queue(ns):
    return ns.anno_routed.apply_async().get(timeout=T)


@program("classes")
def annotation_object_handler(ns):
    key = ns.key("sig")
    result = ns.anno_handler.delay(key)
    outcome = ns.get(result)
    rows = names(trail(ns, key), RACY)
    return [outcome, ns.anno_handler.max_retries, rows, "star" == ns.anno_handler.anno_star]


# -- current_task --------------------------------------------------------------------------------------
@program("classes")
def current_task_in_a_task(ns):
    return ns.who_is_current.delay().get(timeout=T)


@program("classes")
def current_task_called_directly(ns):
    return ns.who_is_current()


@program("classes")
def current_task_nested_direct_call(ns):
    return ns.outer_current.delay().get(timeout=T)


@program("classes")
def direct_self_call_inherits_the_request(ns):
    return [ns.countdown.delay(2).get(timeout=T), ns.countdown(1)]


@program("classes", expect=[False, True, True])
def current_task_outside_tasks(ns):
    state = __import__(f"{ns.name}._state", fromlist=["_state"])
    top = __import__(ns.name)
    registered = ns.add.name in top.current_app.tasks and "conformance.anno_attrs" in top.current_app.tasks
    return [bool(top.current_task), state.get_current_task() is None, registered]


# -- Task.replace ----------------------------------------------------------------------------------------
def _replaced(ns, result):
    value = ns.get(result, propagate=False)
    return [value, ns.wait_state(result, ("SUCCESS", "FAILURE")), ns.AsyncResult(result.id).state]


@program("classes")
def replace_with_a_task(ns):
    return _replaced(ns, ns.replace_with.delay(1, "task"))


@program("classes")
def replace_with_a_chain(ns):
    return _replaced(ns, ns.replace_with.delay(1, "chain"))


@program("classes")
def replace_with_a_group(ns):
    return _replaced(ns, ns.replace_with.delay(1, "group"))


@program("classes")
def replace_with_a_failing_task(ns):
    return _replaced(ns, ns.replace_with.delay(1, "fail"))


@program("classes")
def replace_inside_a_chain(ns):
    result = ns.chain(ns.add.s(1, 1), ns.replace_with.s("task"), ns.mul.s(3)).apply_async()
    return [ns.get(result), ns.get(result.parent), ns.get(result.parent.parent)]


@program("classes")
def replace_inside_a_group(ns):
    members = [ns.replace_with.s(1, "task"), ns.add.s(5, 5), ns.replace_with.s(2, "chain")]
    result = ns.group(members).apply_async()
    return ns.get(result)


@program("classes")
def replace_inside_a_chord(ns):
    result = ns.chord([ns.replace_with.s(1, "task"), ns.add.s(1, 1)], ns.tsum.s()).apply_async()
    return ns.get(result)


@program("classes", modes=("worker",))  # an eager callback leaves no stored result to read
def replace_keeps_the_callbacks(ns):
    callback = ns.identity.s().set(task_id=str(__import__("uuid").uuid4()))
    result = ns.replace_with.apply_async((1, "task"), link=callback)
    return [ns.get(result), ns.get(ns.AsyncResult(callback.id))]


@program("classes")
def replace_called_directly(ns):
    return ns.catch(ns.replace_with, 1, "task")


# -- fidelity --------------------------------------------------------------------------------------------
@program("classes")
def retry_without_throw(ns):
    result = ns.retry_nothrow.delay(ns.key("nothrow"))
    first = ns.get(result, propagate=False)
    if ns.eager:  # an eager run stores nothing: the id reads as unknown (a get() would wait it out)
        return [first, ns.AsyncResult(result.id).state]
    ns.records(ns.key("wait"), wait=1.5)  # the retry was sent all the same: it runs after its countdown
    return [first, ns.get(ns.AsyncResult(result.id), propagate=False)]


@program("classes")
def retry_without_throw_returned(ns):
    result = ns.retry_nothrow.delay(ns.key("nothrow"), "return")
    first = ns.get(result, propagate=False)
    return [type(first).__name__ if isinstance(first, Exception) else first, result.state]


@program("classes", expect=[True, True, True])
def time_limit_exceptions_are_exceptions(ns):
    exceptions = ns.exceptions
    return [issubclass(exceptions.SoftTimeLimitExceeded, Exception),
            issubclass(exceptions.TimeLimitExceeded, Exception),
            exceptions.TimeLimitExceeded.__name__ == "TimeLimitExceeded"]


@program("classes", modes=("worker",), expect=["TimeLimitExceeded", "FAILURE"])
def hard_time_limit_fails_the_task(ns):
    result = ns.hard_limited.delay(ns.key("limit"))
    outcome = ns.get(result)
    return [type(getattr(outcome, "error", outcome)).__name__, result.state]


def _mixed(ns, settings, namespace=None):
    app = ns.Celery("mixed", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.config_from_object(settings, namespace=namespace)
    outcome = ns.catch(lambda: app.conf.task_default_queue)
    error = getattr(outcome, "error", None)
    if error is None:
        return outcome
    # the renames it asks for (Celery's wording is its own)
    words = str(error).replace("->", " ").split()
    return [type(error).__name__, sorted(word for word in words if "_" in word and word.strip(":") == word)]


@program("classes", modes=("eager",))
def mixing_old_and_new_setting_names(ns):
    return [
        _mixed(ns, {"CELERY_ALWAYS_EAGER": True, "task_default_queue": "q", "task_routes": {}}),
        _mixed(ns, {"CELERY_ALWAYS_EAGER": True, "CELERY_DEFAULT_QUEUE": "old", "task_routes": {}}),
        _mixed(ns, {"task_default_queue": "new", "result_expires": 5}),
        _mixed(ns, {"CELERY_DEFAULT_QUEUE": "old"}),
        _mixed(ns, {"CELERY_TASK_DEFAULT_QUEUE": "ns", "CELERY_ALWAYS_EAGER": True}, namespace="CELERY"),
    ]
