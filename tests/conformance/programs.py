"""Core programs (issue 3): calling, arguments, serialization, results, retries, routing, requests, eager.

Each program is written once against ``ns`` (a harness.Stack) and returns what it observed. ``expect=``
is what Celery 5.7 is known to return (celery-semantics.md); it guards the harness, not compat.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal

from tests.conformance.harness import Raised, differs, exc, normalize, program

T = 10  # seconds to wait for a result
E_BLOCK = ("Never call result.get() within a task!\n"
           "See https://docs.celeryq.dev/en/latest/userguide/tasks.html#avoid-launching-synchronous-subtasks\n")


def outcome(ns, result, **get_kwargs):
    """A finished result as (state, value or exception)."""
    value = ns.get(result, propagate=False, **get_kwargs)
    return result.state, normalize(value)


def class_name(value):
    value = value.error if isinstance(value, Raised) else value
    return type(value).__name__


# -- calling -----------------------------------------------------------------------------------------
@program("core", expect=5)
def delay_returns_value(ns):
    return ns.add.delay(2, 3).get(timeout=T)


@program("core", expect=5)
def apply_async_args(ns):
    return ns.add.apply_async((2, 3)).get(timeout=T)


@program("core", expect=3)
def apply_async_kwargs_only(ns):
    return ns.add.apply_async(kwargs={"a": 1, "b": 2}).get(timeout=T)


@program("core", expect=7)
def kw_only_arguments(ns):
    return ns.kw_only.delay(2, scale=3, offset=1).get(timeout=T)


@program("core", expect={"eager": ("EagerResult", "SUCCESS", True, True, False, 2),
                         "worker": ("AsyncResult", "SUCCESS", True, True, False, 2)})
def result_handle_and_state(ns):
    r = ns.add.delay(1, 1)
    r.get(timeout=T)
    return type(r).__name__, r.state, r.successful(), r.ready(), r.failed(), r.result


@program("core", expect=4)
def direct_call_runs_inline(ns):
    return ns.add(2, 2)


@program("core", expect=3)
def signature_call_runs_inline(ns):
    return ns.add.s(1)(2)


@program("core", expect={"eager": {"args": (10, 2), "kwargs": {"j": 2, "k": 1}},
                         "worker": {"args": [10, 2], "kwargs": {"j": 2, "k": 1}}})
def partial_args_are_prepended(ns):
    return ns.echo.s(2, k=1).delay(10, j=2).get(timeout=T)


@program("core", expect={"eager": {"args": (), "kwargs": {"a": 1, "b": 3, "c": 4}},
                         "worker": {"args": [], "kwargs": {"a": 1, "b": 3, "c": 4}}})
def partial_kwargs_merge_call_wins(ns):
    return ns.echo.s(a=1, b=2).apply_async(kwargs={"b": 3, "c": 4}).get(timeout=T)


@program("core", expect={"eager": {"args": (1,), "kwargs": {"k": "v"}},
                         "worker": {"args": [1], "kwargs": {"k": "v"}}})
def immutable_signature_ignores_call_args(ns):
    return ns.echo.si(1, k="v").delay(2, k="w").get(timeout=T)


@program("core", expect={"task": "<tasks>.add", "args": (1, 2), "kwargs": {}, "options": {"countdown": 5}})
def task_signature_options(ns):
    sig = ns.add.signature((1, 2), countdown=5)
    return {"task": sig.task, "args": tuple(sig.args), "kwargs": sig.kwargs, "options": sig.options}


# -- typing: argument checks at the call site ---------------------------------------------------------
@program("core", expect=exc("TypeError", "add() missing 1 required positional argument: 'b'"))
def typing_missing_argument(ns):
    return ns.catch(ns.add.delay, 1)


@program("core", expect=exc("TypeError", "add() takes 2 positional arguments but 3 were given"))
def typing_too_many_arguments(ns):
    return ns.catch(ns.add.delay, 1, 2, 3)


@program("core", expect=exc("TypeError", "add() got an unexpected keyword argument 'c'"))
def typing_unexpected_keyword(ns):
    return ns.catch(ns.add.delay, 1, 2, c=3)


@program("core", expect=exc("TypeError", "add() takes 2 positional arguments but 3 were given"))
def typing_checked_on_signature_delay(ns):
    return ns.catch(ns.add.s(1, 2).delay, 3)


@program("core", expect=("FAILURE", exc("TypeError", "loose() missing 1 required positional argument: 'b'")))
def typing_disabled_fails_at_run(ns):
    return outcome(ns, ns.loose.delay(1))


@program("core", expect=exc("TypeError", "<tasks>.add() argument after * must be an iterable, not int"))
def args_not_iterable(ns):
    return ns.catch(ns.add.apply_async, 5)


@program("core", expect={"eager": {"args": ("a", "b"), "kwargs": {}},
                         "worker": exc("TypeError", "task args must be a list or tuple")})
def args_string_is_not_a_list(ns):
    return ns.catch(lambda: ns.echo.apply_async("ab").get(timeout=T))


@program("core", expect=exc("TypeError", "<tasks>.echo() argument after ** must be a mapping, not list"))
def kwargs_not_a_mapping(ns):
    return ns.catch(ns.echo.apply_async, (), [1])


@program("core", expect=exc("ValueError", "AsyncResult requires valid id, not <class 'NoneType'>"))
def async_result_of_none(ns):
    return ns.catch(ns.AsyncResult, None)


# -- serialization -----------------------------------------------------------------------------------
@program("core", expect=("EncodeError", True))
def encode_error_for_object_argument(ns):
    error = ns.catch(ns.identity.delay, object())
    return class_name(error), "is not JSON serializable" in str(getattr(error, "error", ""))


@program("core", expect=("EncodeError", True))
def encode_error_for_set_argument(ns):
    error = ns.catch(ns.identity.delay, {1, 2})
    return class_name(error), "is not JSON serializable" in str(getattr(error, "error", ""))


@program("core", expect={"type": "datetime", "value": datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)})
def roundtrip_aware_datetime(ns):
    return ns.describe.delay(datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)).get(timeout=T)


@program("core", expect={"type": "datetime", "value": datetime(2024, 1, 2, 3, 4, 5)})
def roundtrip_naive_datetime(ns):
    return ns.describe.delay(datetime(2024, 1, 2, 3, 4, 5)).get(timeout=T)


@program("core", expect={"type": "date", "value": date(2024, 2, 29)})
def roundtrip_date(ns):
    return ns.describe.delay(date(2024, 2, 29)).get(timeout=T)


@program("core", expect={"type": "time", "value": dtime(13, 14, 15)})
def roundtrip_time(ns):
    return ns.describe.delay(dtime(13, 14, 15)).get(timeout=T)


@program("core", expect={"type": "Decimal", "value": Decimal("3.14159")})
def roundtrip_decimal(ns):
    return ns.describe.delay(Decimal("3.14159")).get(timeout=T)


@program("core", expect={"type": "UUID", "value": uuid.UUID("12345678-1234-5678-1234-567812345678")})
def roundtrip_uuid(ns):
    return ns.describe.delay(uuid.UUID("12345678-1234-5678-1234-567812345678")).get(timeout=T)


@program("core", expect={"type": "list", "value": [1, [2, 3]]})
def tuple_argument_arrives_as_list(ns):
    return ns.describe.delay((1, (2, 3))).get(timeout=T)


@program("core", expect={"type": "dict", "value": {"1": "one", "x": [1]}})
def int_dict_keys_arrive_as_strings(ns):
    return ns.describe.delay({1: "one", "x": (1,)}).get(timeout=T)


@program("core", expect={"type": "bytes", "value": b"\x00\xffraw"})
def roundtrip_bytes(ns):
    return ns.describe.delay(b"\x00\xffraw").get(timeout=T)


@program("core", expect={"eager": (1, 2), "worker": [1, 2]})
def tuple_return_value(ns):
    return ns.returns_tuple.delay().get(timeout=T)


@program("core", expect={"eager": ("SUCCESS", ("!obj", "object")), "worker": ("FAILURE", "EncodeError")})
def unserializable_return_value(ns):
    r = ns.returns_object.delay()
    value = ns.get(r, propagate=False)
    return r.state, class_name(value) if r.state == "FAILURE" else normalize(value)


# -- results -----------------------------------------------------------------------------------------
@program("core", expect=("PENDING", None, False, False, None))
def unknown_id_is_pending(ns):
    r = ns.AsyncResult(str(uuid.uuid4()))
    return r.state, r.result, r.ready(), r.successful(), r.traceback


@program("core", expect={"eager": "late", "worker": exc("TimeoutError", "The operation timed out.")})
def get_timeout_raises_timeout_error(ns):
    # Celery's Redis backend checks the timeout between ~1 s pub/sub waits, so the task must be slower.
    return ns.get(ns.slow.delay(2.5, "late"), timeout=0.2)


@program("core", expect=("FAILURE", exc("ValueError", "nope")))
def get_propagate_false_returns_exception(ns):
    return outcome(ns, ns.fail.delay("nope"))


@program("core", expect=exc("ValueError", "raised"))
def get_reraises_task_exception(ns):
    return ns.get(ns.fail.delay("raised"))


@program("core", expect=("FAILURE", True, False, True, True, True, "ValueError"))
def failure_state_and_traceback(ns):
    r = ns.fail.delay("tb-marker")
    ns.get(r, propagate=False)
    tb = r.traceback or ""
    return r.state, r.ready(), r.successful(), r.failed(), "tb-marker" in tb, "ValueError" in tb, \
        type(r.result).__name__


@program("core", expect=(exc("CustomError", "('custom', 7)"), True))
def custom_exception_class_is_rebuilt(ns):
    value = ns.get(ns.fail_custom.delay(7))
    return normalize(value), isinstance(getattr(value, "error", None), ns.CustomError)


@program("core", expect={"eager": (5, [5]), "worker": (None, [5])})
def ignore_result_task(ns):
    key = ns.key()
    r = ns.ignored.delay(key, 5)
    return r.get(timeout=T), ns.records(key)


@program("core", expect={"eager": 3, "worker": None})
def ignore_result_call_option(ns):
    return ns.add.apply_async((1, 2), ignore_result=True).get(timeout=T)


@program("core", expect=(True, True, True, True, False))
def result_equality_and_hash(ns):
    r = ns.add.delay(1, 1)
    other = ns.AsyncResult(r.id)
    unrelated = ns.AsyncResult(str(uuid.uuid4()))
    return other == r, r == r.id, hash(other) == hash(r), str(r) == r.id, r == unrelated


@program("core", expect={"eager": ("PENDING", None), "worker": ("PENDING", None)})
def forget_makes_pending(ns):
    r = ns.add.delay(1, 1)
    r.get(timeout=T)
    r.forget()
    fresh = ns.AsyncResult(r.id)
    return fresh.state, fresh.result


@program("core", expect={"eager": (None, None), "worker": (True, True)})
def date_done_is_aware_datetime(ns):
    r = ns.add.delay(1, 1)
    r.get(timeout=T)
    done = r.date_done
    if done is None:
        return None, None
    return isinstance(done, datetime), done.tzinfo is not None


@program("core", expect=("EagerResult", "SUCCESS", 3, True, "<tasks>.add", None))
def apply_returns_eager_result(ns):
    r = ns.add.apply((1, 2))
    return type(r).__name__, r.state, r.get(), r.ready(), r.name, r.children


@program("core", expect=("FAILURE", exc("ValueError", "applied"), exc("ValueError", "applied")))
def apply_failure_eager_result(ns):
    r = ns.fail.apply(("applied",))
    return r.state, normalize(r.result), ns.catch(r.get)


@program("core", expect=exc("ValueError", "thrown"))
def apply_throw_raises(ns):
    return ns.catch(ns.fail.apply, ("thrown",), throw=True)


@program("core", expect=("REVOKED", exc("TaskRevokedError", "revoked")))
def eager_result_revoke(ns):
    r = ns.add.apply((1, 2))
    r.revoke()
    return r.state, ns.catch(r.get)


# -- send_task ---------------------------------------------------------------------------------------
@program("core", expect=("AsyncResult", 3))
def send_task_by_full_name(ns):
    r = ns.app.send_task(f"{ns.tasks_module}.add", args=[1, 2])
    return type(r).__name__, r.get(timeout=T)


@program("core", expect=("FAILURE", exc("NotRegistered", "'conformance.no.such.task'")))
def send_task_unknown_name(ns):
    return outcome(ns, ns.app.send_task("conformance.no.such.task", args=[1]))


@program("core", expect="named")
def send_task_explicit_name(ns):
    return ns.app.send_task("conformance.named").get(timeout=T)


@differs("a bare short name resolves to the one registered task ending in '.<name>' (DESIGN: guide's "
         "send_task('notify_followers'))", compat=lambda celery, mode: {"returned": ("SUCCESS", 3)})
@program("core", expect=("FAILURE", exc("NotRegistered", "'add'")))
def send_task_short_name(ns):
    return outcome(ns, ns.app.send_task("add", args=[1, 2]))


# -- countdown, eta, expires, revoke -----------------------------------------------------------------
@program("core", expect={"eager": (2, False), "worker": (2, True)})
def countdown_delays_execution(ns):
    start = time.monotonic()
    value = ns.add.apply_async((1, 1), countdown=0.4).get(timeout=T)
    return value, time.monotonic() - start >= 0.35


@program("core", expect={"eager": (2, False), "worker": (2, True)})
def eta_delays_execution(ns):
    start = time.monotonic()
    value = ns.add.apply_async((1, 1), eta=datetime.now(UTC) + timedelta(seconds=0.4)).get(timeout=T)
    return value, time.monotonic() - start >= 0.35


@program("core", expect={"eager": ("SUCCESS", 2),
                         "worker": ("REVOKED", exc("TaskRevokedError", "expired"))})
def expired_message_is_revoked(ns):
    return outcome(ns, ns.add.apply_async((1, 1), countdown=0.5, expires=0.1))


@program("core", expect=("REVOKED", exc("TaskRevokedError", "revoked")))
def revoke_before_run(ns):
    r = ns.add.apply_async((1, 1), countdown=0.5)
    r.revoke()
    value = ns.get(r)
    return ns.wait_state(r, ("REVOKED",)), normalize(value)


# -- retries -----------------------------------------------------------------------------------------
@program("core", expect=({"attempts": 3, "retries": 2}, "SUCCESS"))
def retry_then_success(ns):
    r = ns.retry_until.delay(ns.key(), 2)
    return r.get(timeout=T), r.state


@program("core", expect=(exc("KeyError", "'gone'"), 3))
def retries_exhausted_with_exc(ns):
    key = ns.key()
    return normalize(ns.get(ns.retry_exhaust.delay(key, True))), ns.counter(key)


@program("core", expect=(exc("MaxRetriesExceededError", "Can't retry <tasks>.retry_exhaust[<id>] "
                                                        "args:('conformance:k:<id>', False) kwargs:{}"), 3))
def retries_exhausted_without_exc(ns):
    key = ns.key()
    value = ns.get(ns.retry_exhaust.delay(key, False))
    return normalize(value), ns.counter(key)


@program("core", expect=("MaxRetriesExceededError", 2))
def retry_max_retries_override(ns):
    key = ns.key()
    return class_name(ns.get(ns.retry_override.delay(key))), ns.counter(key)


@program("core", expect=(6, 6))
def retry_unlimited_max_retries_none(ns):
    key = ns.key()
    return ns.retry_unlimited.delay(key, 5).get(timeout=T), ns.counter(key)


@program("core", expect=("MaxRetriesExceededError", 1))
def retry_without_exc_in_except_block(ns):
    key = ns.key()
    return class_name(ns.get(ns.retry_in_except.delay(key))), ns.counter(key)


@program("core", expect={"value": 30, "retries": 1})
def retry_with_new_args(ns):
    return ns.retry_new_args.delay(3).get(timeout=T)


@program("core", modes=("worker",), expect=("RETRY", exc("KeyError", "'later'"), False))
def retry_state_is_visible(ns):
    r = ns.retry_later.delay()
    state = ns.wait_state(r, ("RETRY", "FAILURE", "SUCCESS"))
    seen = state, normalize(r.result), r.ready()
    r.revoke()
    return seen


@program("core", expect=(3, 3))
def autoretry_then_success(ns):
    key = ns.key()
    return ns.auto_retry.delay(key, 2).get(timeout=T), ns.counter(key)


@program("core", expect=(exc("KeyError", "'attempt 3'"), 3))
def autoretry_exhausted_raises_original(ns):
    key = ns.key()
    return normalize(ns.get(ns.auto_retry.delay(key, 10))), ns.counter(key)


@program("core", expect=(exc("ValueError", "not retried"), 1))
def dont_autoretry_for(ns):
    key = ns.key()
    return normalize(ns.get(ns.auto_retry_except.delay(key))), ns.counter(key)


@program("core", modes=("eager",), expect=(exc("Retry", "Retry in 2s: KeyError('backoff')"), 1))
def backoff_countdown_under_eager_propagation(ns):
    key = ns.key()
    with ns.conf(task_eager_propagates=True):
        raised = ns.catch(ns.backoff.delay, key)
    return normalize(raised), ns.counter(key)


@program("core", expect=(exc("KeyError", "'capped'"), 3))
def backoff_capped_at_zero(ns):
    key = ns.key()
    return normalize(ns.get(ns.backoff_capped.delay(key))), ns.counter(key)


@program("core", expect={"eager": (exc("Retry", "Retry in 0.05s: KeyError('attempt 1')"), 1),
                         "worker": ({"attempts": 2, "retries": 1}, 2)})
def retry_under_eager_propagation(ns):
    key = ns.key()
    with ns.conf(task_eager_propagates=True):
        value = ns.catch(lambda: ns.retry_until.delay(key, 1).get(timeout=T))
    return normalize(value), ns.counter(key)


@program("core", expect=(exc("KeyError", "'x'"), exc("Retry", "Task can be retried")))
def retry_when_called_directly(ns):
    def direct(exc_value):
        return ns.catch(lambda: ns.retry_later.retry(exc=exc_value))

    return normalize(direct(KeyError("x"))), normalize(direct(None))


# -- eager propagation -------------------------------------------------------------------------------
@program("core", expect={"eager": ("raised", exc("ValueError", "prop")),
                         "worker": ("returned", "FAILURE")})
def eager_propagates_raises_at_call(ns):
    with ns.conf(task_eager_propagates=True):
        r = ns.catch(ns.fail.delay, "prop")
    if isinstance(r, Raised):
        return "raised", normalize(r)
    ns.get(r, propagate=False)
    return "returned", r.state


@program("core", expect=("FAILURE", exc("ValueError", "quiet")))
def eager_without_propagation_returns_failure(ns):
    return outcome(ns, ns.fail.delay("quiet"))


@program("core", expect=exc("RuntimeError", E_BLOCK))
def get_inside_task_raises(ns):
    return normalize(ns.get(ns.get_inside.delay(), propagate=False))


# -- requests ----------------------------------------------------------------------------------------
@program("core")
def request_fields_of_delay(ns):
    r = ns.req.delay(1, x=2)
    seen = r.get(timeout=T)
    return {**seen, "id_is_result_id": seen["id"] == r.id, "root_is_self": seen["root_id"] == r.id}


@program("core", expect={"id": None, "retries": 0, "args": (1,), "kwargs": {"x": 2}, "is_eager": False,
                         "called_directly": True, "root_id": None, "parent_id": None, "group": None,
                         "routing_key": None, "priority": None, "name": "<tasks>.req"})
def request_fields_of_direct_call(ns):
    return ns.req(1, x=2)


@program("core")
def request_fields_of_apply(ns):
    r = ns.req.apply((1,), {"x": 2})
    seen = r.get()
    return {**seen, "id_is_result_id": seen["id"] == r.id}


@program("core", expect={"eager": {"child_id_is_result_id": True, "child_parent_is_me": True,
                                   "child_root_is_my_root": True, "my_root_is_me": True,
                                   "child_is_eager": True, "child_args": [5]},
                         "worker": {"child_id_is_result_id": True, "child_parent_is_me": True,
                                    "child_root_is_my_root": True, "my_root_is_me": True,
                                    "child_is_eager": False, "child_args": [5]}})
def nested_call_parent_and_root_ids(ns):
    return ns.spawn.delay(5).get(timeout=T)


@program("core", expect=("<tasks>.add", "conformance.named", "<tasks>.shared_add", True, True))
def task_names(ns):
    return ns.add.name, ns.named.name, ns.shared_add.name, ns.add.name in ns.app.tasks, \
        "conformance.named" in ns.app.tasks


@program("core", expect=3)
def shared_task_runs(ns):
    return ns.shared_add.delay(1, 2).get(timeout=T)


@program("core", expect=(3, 180, False, False))
def task_default_attributes(ns):
    add = ns.add
    return add.max_retries, add.default_retry_delay, bool(add.ignore_result), bool(add.track_started)


# -- routing -----------------------------------------------------------------------------------------
@program("core", expect={"eager": None, "worker": "conf"})
def route_default_queue(ns):
    return ns.req.delay().get(timeout=T)["routing_key"]


@program("core", expect={"eager": None, "worker": "conf_routed"})
def route_glob_pattern(ns):
    return ns.routed_req.delay().get(timeout=T)


@program("core", expect={"eager": None, "worker": "conf_explicit"})
def route_explicit_queue_beats_routes(ns):
    return ns.routed_req.apply_async(queue="conf_explicit").get(timeout=T)


@program("core", expect="conf_routed")  # send_task is never eager
def route_send_task_by_name(ns):
    return ns.app.send_task(f"{ns.tasks_module}.routed_req").get(timeout=T)


@program("core", expect={"eager": (5, None), "worker": (5, 0)})
def priority_reaches_the_request(ns):
    explicit = ns.req.apply_async(priority=5).get(timeout=T)["priority"]
    return explicit, ns.req.delay().get(timeout=T)["priority"]


@program("core")
def custom_headers_reach_the_request(ns):
    return ns.req_header.apply_async(headers={"h": "v"}).get(timeout=T)


# -- state store -------------------------------------------------------------------------------------
@program("core", expect={"eager": ("done", "PROGRESS", {"done": 1}), "worker": ("done", "SUCCESS", "done")})
def update_state_custom_state(ns):
    r = ns.progress.delay()
    value = r.get(timeout=T)
    stored = ns.AsyncResult(r.id)
    return value, stored.state, stored.result


@program("core", expect={"eager": ("SUCCESS", "SUCCESS"), "worker": ("STARTED", "SUCCESS")})
def track_started_state(ns):
    r = ns.tracked.delay(0.6)
    first = ns.wait_state(r, ("STARTED", "SUCCESS"))
    r.get(timeout=T)
    return first, r.state


@program("core", expect={"eager": ("SUCCESS", "finished"),
                         "worker": ("FAILURE", exc("SoftTimeLimitExceeded", "SoftTimeLimitExceeded()"))})
def soft_time_limit(ns):
    return outcome(ns, ns.soft_limited.delay(1.0))


@program("core", expect=exc("ValueError", "soft_time_limit must be less than or equal to time_limit"))
def soft_limit_above_hard_limit(ns):
    return ns.catch(ns.bad_limits.delay)


@program("core", expect={"eager": ("IGNORED", exc("Ignore", "")), "worker": ("PENDING", "PENDING")})
def ignore_exception(ns):
    r = ns.ignore_me.delay()
    if ns.eager:
        return r.state, normalize(r.result)
    time.sleep(0.3)
    return r.state, ns.AsyncResult(r.id).state


@program("core", expect={"eager": None, "worker": ["AsyncResult"]})
def children_of_a_task(ns):
    r = ns.spawn.delay(1)
    r.get(timeout=T)
    children = r.children
    return None if children is None else [type(child).__name__ for child in children]


@program("core", expect={"eager": ("<tasks>.add", None, None), "worker": (None, None, None)})
def extended_fields_without_result_extended(ns):
    r = ns.add.delay(1, 1)
    r.get(timeout=T)
    return r.name, r.args, r.kwargs


# -- API surface -------------------------------------------------------------------------------------
@program("core", expect=(exc("TypeError", "@task() takes exactly 1 argument (2 given)"),
                         exc("TypeError", "argument 1 to @task() must be a callable")))
def task_decorator_misuse(ns):
    return normalize(ns.catch(ns.app.task, 1, 2)), normalize(ns.catch(ns.app.task, "x"))


@program("core", expect=[["FAILURE", "REVOKED", "SUCCESS"],
                         ["PENDING", "RECEIVED", "REJECTED", "RETRY", "STARTED"],
                         ["FAILURE", "RETRY", "REVOKED"], ["FAILURE", "REVOKED"]])
def state_sets(ns):
    s = ns.states
    groups = (s.READY_STATES, s.UNREADY_STATES, s.EXCEPTION_STATES, s.PROPAGATE_STATES)
    return [sorted(group) for group in groups]


@program("core")
def exception_hierarchy(ns):
    e = ns.exceptions
    names = ("MaxRetriesExceededError", "NotRegistered", "TimeoutError", "TaskRevokedError", "ChordError",
             "Retry", "Ignore", "Reject", "SoftTimeLimitExceeded", "ImproperlyConfigured")
    bases = ("CeleryError", "TaskError", "TaskPredicate", "KeyError", "Exception")
    return {name: [base for base in bases if base in {c.__name__ for c in getattr(e, name).__mro__}]
            for name in names}


@program("core", expect=("Retry in 5s: ValueError('x')", "Retry in 5s", "custom text"))
def retry_exception_text(ns):
    retry = ns.exceptions.Retry
    return str(retry(exc=ValueError("x"), when=5)), str(retry(when=5)), str(retry("custom text"))


def _named_encode_error(celery, mode):
    if mode == "eager":
        return celery
    return {"returned": ("EncodeError", "<tasks>.identity: positional argument 0 ({1, 2}) cannot be sent: "
                                        "Object of type set is not JSON serializable")}


@differs("the EncodeError raised when sending names the task and the argument JSON cannot carry (DESIGN: "
         "'a clear TypeError/EncodeError naming the task and the argument')", compat=_named_encode_error)
@program("core", expect=("EncodeError", "Object of type set is not JSON serializable"))
def encode_error_message(ns):
    error = ns.catch(ns.identity.delay, {1, 2})
    return class_name(error), normalize(str(getattr(error, "error", "")))
