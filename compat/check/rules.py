"""The one table behind ``compat check``: each kind of Celery usage, its status and the docs row saying why.

Every ``Row`` names a row of ``docs/compat.md`` (its section heading and the exact text of its first cell),
carries that row's status, and lists the usage kinds the scanner reports under it. A kind is
``<category>:<name>`` (``task-option:acks_late``, ``signal:task_prerun``); ``<category>:*`` is the fallback
for names of that category the table does not list. ``tests/compat/test_check_rules.py`` fails when a
status here disagrees with the docs row, when a row is missing from the docs, or when a kind the scanner
can emit has no classification.

To change a status (a feature landed): edit the docs row, then the ``status`` of its ``Row`` here (or
move the kinds to a new row). Nothing else in ``compat check`` hard-codes a status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Status = Literal["supported", "differs", "unsupported"]

#: How a status is written in docs/compat.md's status column.
DOC_STATUS: dict[str, Status] = {
    "supported": "supported",
    "extension": "supported",
    "differs": "differs",
    "not supported": "unsupported",
}

DOCS = "docs/compat.md"

S_APP = "App and configuration"
S_MODULES = "Modules and packages"
S_SIGNALS = "Signals"
S_WORKER = "Worker settings"
S_TASKS = "Declaring tasks (`@app.task(**options)`)"
S_CALLING = "Calling"
S_RESULTS = "Results and states"
S_CANVAS = "Canvas"
S_CONTROL = "Remote control (`app.control`, `inspect()`)"


@dataclass(frozen=True)
class Row:
    """One row of docs/compat.md and the usage kinds it classifies.

    ``label`` is the row's first cell, or the start of it when that cell is long (it must then match
    exactly one row of its section).
    """

    section: str
    label: str
    status: Status
    kinds: tuple[str, ...]
    why: str
    #: What compat does at run time when a project uses one of ``kinds`` (``compat.check.runtime``):
    #: "" derives it from the status (supported/differs: honoured; unsupported: a warning at start),
    #: "error" (a clear error at configuration), "warn" (a warning at start, whatever the status).
    runtime: str = ""
    #: Kinds of this row that raise a clear error instead of what ``runtime`` says.
    raises: tuple[str, ...] = ()

    @property
    def link(self) -> str:
        return f"{DOCS}#{slug(self.section)}"


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _kinds(category: str, names: str) -> tuple[str, ...]:
    return tuple(f"{category}:{name}" for name in names.split())


WORKER_SIGNALS = (
    "celeryd_init import_modules worker_init celeryd_after_setup worker_process_init worker_ready "
    "worker_shutting_down worker_process_shutdown worker_shutdown"
)
CONTROL_METHODS = (
    "add_consumer autoscale broadcast cancel_consumer disable_events discard_all election enable_events "
    "heartbeat inspect ping pool_grow pool_restart pool_shrink purge rate_limit revoke "
    "revoke_by_stamped_headers shutdown terminate time_limit"
)
INSPECT_METHODS = (
    "active active_queues clock conf hello memdump memsample objgraph ping query_task registered "
    "registered_tasks report reserved revoked scheduled stats"
)

#: compat's own settings (no Celery equivalent), classified as ``setting:facade``.
FACADE_SETTINGS = frozenset(
    "broker_namespace result_namespace priority_steps worker_idle_wait broker_heartbeat_timeout "
    "broker_maintenance_interval task_message_max_bytes worker_max_redeliveries dead_letter_retention "
    "broker_management_url stores_url "
    "alert_webhook_url alert_mailer alert_digest_seconds worker_metrics worker_metrics_interval "
    "worker_metrics_window worker_metrics_recent metrics_token ops_scheduler_prefix "
    "ops_scheduler_entries".split()
)

ROWS: tuple[Row, ...] = (
    # -- modules ---------------------------------------------------------------------------------
    Row(S_MODULES, "`celery`, `celery.result`, `celery.exceptions`, `celery.schedules`, `celery.states`",
        "supported",
        _kinds("import", "celery celery.result celery.exceptions celery.schedules celery.states"),
        "import it from compat instead (compat.result, compat.exceptions, ...)"),
    Row(S_MODULES, "`celery.signals`, `celery.utils.log`", "supported",
        _kinds("import", "celery.signals celery.utils.log"), "import it from compat instead"),
    Row(S_MODULES, "`celery._state` (`get_current_task`, `get_current_worker_task`, `get_current_app`), "
        "`current_task`", "supported", ("import:celery._state",),
        "import it from compat instead"),
    Row(S_MODULES, "other `celery.*` modules (`celery.app.*`, "
        "`celery.contrib.*`, `celery.bin`, `celery.bootsteps`, ...)", "unsupported",
        ("import:celery.*",), "compat has no such module"),
    Row(S_MODULES, "`kombu` (`Queue`, `Exchange`, ...)", "unsupported", ("import:kombu",),
        "compat does not use kombu; queues are plain names"),
    Row(S_MODULES, "`django_celery_beat` (app, models, `DatabaseScheduler`)", "differs",
        ("import:django_celery_beat", "django-app:django_celery_beat"),
        "use compat.contrib.django.beat: the same tables and models; replace the app and the imports"),
    Row(S_MODULES, "`django_celery_results` (app, models, `django-db`/`django-cache` backends)",
        "differs",
        ("import:django_celery_results", "django-app:django_celery_results",
         "setting:result_backend=django", "setting:cache_backend"),
        "use compat.contrib.django.results: the same tables and models; replace the app and the imports"),
    # -- app and configuration -------------------------------------------------------------------
    Row(S_APP, "`Celery(main, broker=, backend=, include=)`", "supported", ("app:Celery",),
        "works without Django too"),
    Row(S_APP, "`Celery(task_cls=)` (a class, `\"module:Class\"` or `\"module.Class\"`)", "supported",
        ("app-option:task_cls",), "every task's base class, resolved when the first task is declared"),
    Row(S_APP, "`Celery(loader=, amqp=, events=, log=, control=, fixups=, ...)`", "unsupported",
        ("app-option:*",), "accepted and ignored"),
    Row(S_APP, "`app.conf` attribute/`update()`/item access", "supported", ("app:conf",),
        "read live from the config source"),
    Row(S_APP, "`config_from_object(obj_or_path, namespace=\"CELERY\")`", "supported",
        ("app:config_from_object",), "CELERY_X_Y is read as x_y"),
    Row(S_APP, "`autodiscover_tasks()`", "supported", ("app:autodiscover_tasks",), ""),
    Row(S_APP, "`app.task`, `shared_task` (both forms, misuse errors)", "supported",
        ("task:app.task", "task:shared_task"), "every task is a dramatiq.Actor"),
    Row(S_APP, "`app.send_task`", "supported", ("call:send_task",), ""),
    Row(S_APP, "`app.AsyncResult`, `app.GroupResult`, `app.signature`, `current_app`", "supported",
        ("result:AsyncResult", "result:GroupResult", "app:current_app"), ""),
    Row(S_APP, "`redis://`, `rediss://`, `unix://` broker and result backend", "supported",
        ("setting:broker_url", "setting:broker_url=redis", "setting:result_backend",
         "setting:result_backend=redis"), ""),
    Row(S_APP, "`memory://` broker, `cache+memory://` backend", "supported",
        ("setting:broker_url=memory", "setting:result_backend=memory"), "in-process, for tests"),
    Row(S_APP, "`amqp://`, `pyamqp://`, `amqps://` broker (RabbitMQ", "supported",
        ("setting:broker_url=amqp",), "results, dead letters and control stay in the Redis result backend"),
    Row(S_APP, "RabbitMQ settings: `task_queue_max_priority`", "differs",
        _kinds("setting", "task_queue_max_priority task_default_queue_type broker_use_ssl broker_heartbeat "
               "broker_failover_strategy"),
        "priorities are native on classic queues (x-max-priority, 10 when unset); quorum queues have none"),
    Row(S_APP, "other brokers and result backends (`amqp://` or `rpc://` results, `sqs://`, `db+...`)",
        "unsupported",
        ("setting:broker_url=other", "setting:result_backend=other", "setting:result_backend=amqp"),
        "ImproperlyConfigured when the app is finalized: brokers are redis://, rediss://, unix://, amqp://, "
        "pyamqp://, amqps://, memory://; result backends redis://, cache+memory://, django-db, django-cache",
        runtime="error"),
    Row(S_APP, "`json` serialization (`task_serializer`, `result_serializer`, `accept_content`)", "supported",
        ("setting:task_serializer=json", "setting:result_serializer=json", "setting:accept_content=json",
         "setting:result_accept_content=json", "task-option:serializer=json", "call-option:serializer=json",
         "setting:task_serializer", "setting:result_serializer", "setting:accept_content",
         "setting:result_accept_content"),
        "only JSON travels"),
    Row(S_APP, "`task_serializer`/`serializer=` other than `json`", "unsupported",
        ("setting:task_serializer=other", "setting:result_serializer=other", "setting:accept_content=other",
         "setting:result_accept_content=other", "task-option:serializer=other",
         "call-option:serializer=other"),
        "pickle (or yaml, msgpack) is never used",
        raises=("setting:task_serializer=other", "task-option:serializer=other",
                "call-option:serializer=other")),
    Row(S_APP, "`task_routes` (", "supported",
        ("setting:task_routes",), ""),
    Row(S_APP, "`task_default_queue` (`celery`), `task_create_missing_queues`", "supported",
        _kinds("setting", "task_default_queue task_create_missing_queues"), ""),
    Row(S_APP, "`task_always_eager`, `task_eager_propagates`, `task_store_eager_result`", "supported",
        _kinds("setting", "task_always_eager task_eager_propagates task_store_eager_result"), ""),
    Row(S_APP, "`task_ignore_result`, `task_track_started`, `result_expires` (TTL, default 1 day), "
        "`result_extended`", "supported",
        _kinds("setting", "task_ignore_result task_track_started result_expires result_extended"), ""),
    Row(S_APP, "`task_time_limit`, `task_soft_time_limit`", "supported",
        _kinds("setting", "task_time_limit task_soft_time_limit"), ""),
    Row(S_APP, "`timezone`, `imports`, `include`, `task_default_priority`", "supported",
        _kinds("setting", "timezone imports include task_default_priority"), ""),
    Row(S_APP, "`task_default_rate_limit`", "differs", ("setting:task_default_rate_limit",),
        "per worker process"),
    Row(S_APP, "`task_acks_late`", "differs", ("setting:task_acks_late",),
        "always late: a task is acknowledged after it ran"),
    Row(S_APP, "`task_annotations` (dict, objects with `annotate()`, import paths, lists of them, `'*'`)",
        "differs", ("setting:task_annotations",),
        "applied when a task is declared (Celery: when the app is finalized): configure the app first"),
    Row(S_APP, "`task_queues` (kombu `Queue` objects), `task_publish_retry`, `celery` CLI", "unsupported",
        _kinds("setting", "task_queues task_publish_retry task_publish_retry_policy"),
        "not available yet"),
    # -- signals ---------------------------------------------------------------------------------
    Row(S_SIGNALS, "`task_prerun`, `task_postrun`, `task_success`, `task_failure`, `task_retry`", "supported",
        _kinds("signal", "task_prerun task_postrun task_success task_failure task_retry task_internal_error"),
        "sent as Celery sends them"),
    Row(S_SIGNALS, "`before_task_publish`, `after_task_publish`", "differs",
        _kinds("signal", "before_task_publish after_task_publish"),
        "sent around every send; changing headers in a receiver changes nothing sent"),
    Row(S_SIGNALS, "`task_received`, `task_revoked`, `task_unknown`", "supported",
        _kinds("signal", "task_received task_revoked task_unknown"), "sent by workers"),
    Row(S_SIGNALS, "`celeryd_init`, `import_modules`, `worker_init`, `celeryd_after_setup`", "differs",
        _kinds("signal", WORKER_SIGNALS),
        "sent in each worker process, in Celery's order: each Dramatiq worker process is one node"),
    Row(S_SIGNALS, "`setup_logging`, `after_setup_logger`, `after_setup_task_logger`", "supported",
        _kinds("signal", "setup_logging after_setup_logger after_setup_task_logger"),
        "sent by each worker process's logging set-up; a setup_logging receiver replaces it"),
    Row(S_SIGNALS, "`heartbeat_sent`", "differs", ("signal:heartbeat_sent",),
        "sent with each heartbeat of the worker metrics"),
    Row(S_SIGNALS, "`task_rejected`", "differs", ("signal:task_rejected",),
        "sent when a worker's consumer (Redis or RabbitMQ) discards an undecodable or malformed message"),
    Row(S_SIGNALS, "`task_sent`", "supported", ("signal:task_sent",),
        "deprecated in Celery, still sent by Celery 5.7: after after_task_publish"),
    Row(S_SIGNALS, "`beat_init`", "supported", ("signal:beat_init",),
        "sent by the scheduler daemon at start"),
    Row(S_SIGNALS, "`worker_before_create_process`, `beat_embedded_init`, `eventlet_pool_*`", "unsupported",
        (*_kinds("signal", "worker_before_create_process beat_embedded_init eventlet_pool_started "
                 "eventlet_pool_preshutdown eventlet_pool_postshutdown eventlet_pool_apply "
                 "user_preload_options"),
         "signal:*"),
        "never sent: no pool process is forked, no embedded beat, no eventlet pool, no celery CLI"),
    Row(S_APP, "`beat_schedule`", "supported", ("setting:beat_schedule",), "run by the scheduler daemon"),
    Row(S_APP, "`beat_scheduler`", "supported", ("setting:beat_scheduler",),
        "DatabaseScheduler: the scheduler daemon fires django-celery-beat's rows"),
    Row(S_APP, "facade settings (`broker_namespace`, `result_namespace`, `broker_heartbeat_timeout`, ...: "
        "see docs/operations.md)", "supported", ("setting:facade",), "compat's own settings"),
    Row(S_APP, "any other Celery setting", "unsupported", ("setting:*",),
        "accepted and not used"),
    # -- worker settings -------------------------------------------------------------------------
    Row(S_WORKER, "`worker_concurrency`", "supported", ("setting:worker_concurrency",),
        "worker threads per process, unless -t is given"),
    Row(S_WORKER, "`worker_prefetch_multiplier`", "differs", ("setting:worker_prefetch_multiplier",),
        "multiplier x threads per queue consumer"),
    Row(S_WORKER, "`worker_max_tasks_per_child`, `worker_max_memory_per_child`", "differs",
        _kinds("setting", "worker_max_tasks_per_child worker_max_memory_per_child"),
        "the whole worker group is replaced, under compat.supervisor"),
    Row(S_WORKER, "`worker_pool_restarts`", "supported", ("setting:worker_pool_restarts",),
        "enables app.control.pool_restart()"),
    Row(S_WORKER, "`broker_transport_options`: `visibility_timeout`, `priority_steps`", "differs",
        ("setting:broker_transport_options",), "visibility_timeout is the dead-worker recovery timeout"),
    Row(S_WORKER, "`broker_transport_options`: `sep`, `global_keyprefix`", "differs",
        _kinds("setting", "broker_transport_options.sep broker_transport_options.global_keyprefix"),
        "read by import-celery to find Celery's keys; compat's own queues do not use them"),
    Row(S_WORKER, "`broker_transport_options`: `queue_order_strategy`", "differs",
        ("setting:broker_transport_options.queue_order_strategy",),
        "priority/sorted: a worker takes a queue's messages only while earlier queues have none at that "
        "priority step or above; an earlier queue's prefetched batch is not reordered"),
    Row(S_WORKER, "`broker_transport_options`: `confirm_publish`", "supported",
        ("setting:broker_transport_options.confirm_publish",),
        "RabbitMQ: every send waits for its publisher confirm, as kombu's; off, a producer's sends are "
        "confirmed without waiting (kept and sent again until confirmed)"),
    Row(S_WORKER, "`broker_connection_retry_on_startup`, `broker_connection_retry`, "
        "`broker_connection_max_retries`, `broker_connection_timeout`", "differs",
        _kinds("setting", "broker_connection_retry_on_startup broker_connection_retry "
               "broker_connection_max_retries broker_connection_timeout"),
        "a worker's first connection is retried as Celery's is; after a loss compat always reconnects"),
    Row(S_WORKER, "`broker_pool_limit`, `broker_pool_acquire_timeout`", "supported",
        _kinds("setting", "broker_pool_limit broker_pool_acquire_timeout"),
        "at most N publishing connections per process, waiting at most the timeout for one; "
        "None or 0: a connection per publish"),
    Row(S_WORKER, "`task_reject_on_worker_lost` (`True`, or not set)", "differs",
        ("setting:task_reject_on_worker_lost",), "always: a dead worker's messages run again"),
    Row(S_WORKER, "`task_reject_on_worker_lost = False`", "differs",
        ("setting:task_reject_on_worker_lost=false",),
        "a dead worker's messages run again; Celery (with acks_late) fails them with WorkerLostError",
        runtime="warn"),
    Row(S_WORKER, "`worker_hijack_root_logger`, `worker_log_format`, `worker_task_log_format`", "supported",
        _kinds("setting", "worker_hijack_root_logger worker_log_format worker_log_datefmt "
               "worker_task_log_format worker_task_log_datefmt worker_log_color"),
        "Celery's worker logging set-up, in each worker process"),
    Row(S_WORKER, "`worker_redirect_stdouts`, `worker_redirect_stdouts_level`", "supported",
        _kinds("setting", "worker_redirect_stdouts worker_redirect_stdouts_level"),
        "print() in a worker goes to the celery.redirected logger, as in Celery"),
    Row(S_WORKER, "`worker_send_task_events`, `task_send_sent_event`", "differs",
        _kinds("setting", "worker_send_task_events task_send_sent_event"),
        "no Celery event stream (Flower, celery events): the worker metrics record every task whatever "
        "the setting (ops dashboard, Prometheus)", runtime="warn"),
    # -- declaring tasks -------------------------------------------------------------------------
    Row(S_TASKS, "`bind`, `name` (else `module.qualname`, `__main__` -> app main), `base`", "supported",
        (*_kinds("task-option", "bind name base"), "task:base-class"), ""),
    Row(S_TASKS, "`max_retries` (3; `None` = unlimited), `default_retry_delay` (180)", "supported",
        _kinds("task-option", "max_retries default_retry_delay"), ""),
    Row(S_TASKS, "`autoretry_for`, `dont_autoretry_for`, `retry_kwargs`, `retry_backoff`, "
        "`retry_backoff_max`, `retry_jitter`", "supported",
        _kinds("task-option", "autoretry_for dont_autoretry_for retry_kwargs retry_backoff retry_backoff_max "
               "retry_jitter"), ""),
    Row(S_TASKS, "`ignore_result`, `store_errors_even_if_ignored`, `track_started`", "supported",
        _kinds("task-option", "ignore_result store_errors_even_if_ignored track_started"), ""),
    Row(S_TASKS, "`typing` (and `strict_typing`)", "supported", ("task-option:typing",), ""),
    Row(S_TASKS, "`throws`", "supported", ("task-option:throws",), ""),
    Row(S_TASKS, "`queue`, `priority`, `expires`", "supported",
        _kinds("task-option", "queue priority expires"), ""),
    Row(S_TASKS, "`time_limit`", "differs", ("task-option:time_limit",),
        "compat.exceptions.TimeLimitExceeded raised inside the worker thread; Celery kills the process"),
    Row(S_TASKS, "`soft_time_limit`", "supported", ("task-option:soft_time_limit",), ""),
    Row(S_TASKS, "`rate_limit` (`'10/s'`, `'5/m'`, `'1/h'`, numbers)", "supported",
        ("task-option:rate_limit",), "per worker process"),
    Row(S_TASKS, "`acks_late`", "differs", ("task-option:acks_late",), "always late"),
    Row(S_TASKS, "`trail`", "supported", ("task-option:trail",), ""),
    Row(S_TASKS, "`before_start`, `on_success`, `on_failure`, `on_retry`, `after_return` handlers",
        "supported",
        _kinds("task-method", "before_start on_success on_failure on_retry after_return"), ""),
    Row(S_TASKS, "`on_bound(app)`, `on_replace(sig)`", "supported",
        _kinds("task-method", "on_bound on_replace"), "called as Celery calls them"),
    Row(S_TASKS, "a base class overriding `apply_async`, `delay` or `__call__`", "differs",
        _kinds("task-method", "apply_async delay __call__"),
        "honoured on every path Celery honours them; __call__ must call super().__call__()"),
    Row(S_TASKS, "`Task.replace(sig)`", "supported", ("call:replace",),
        "the original id resolves to the replacement's outcome"),
    Row(S_TASKS, "`reject_on_worker_lost`, `shadow_name`, `pydantic`, `Request` classes", "unsupported",
        (*_kinds("task-option", "reject_on_worker_lost shadow_name pydantic pydantic_strict pydantic_context "
                 "pydantic_dump_kwargs Request Strategy acks_on_failure_or_timeout acks_on_failure "
                 "acks_on_timeout retry_on_worker_lost send_events resultrepr_maxsize autoregister lazy "
                 "abstract"), "task-method:*"),
        "accepted and ignored"),
    Row(S_TASKS, "other options", "supported", ("task-option:*",),
        "become attributes of the task class, as in Celery"),
    # -- calling ---------------------------------------------------------------------------------
    Row(S_CALLING, "`delay`, `apply_async(args, kwargs, countdown, eta, expires, queue, priority, task_id, "
        "link, link_error, headers, ignore_result, time_limit, soft_time_limit)`", "supported",
        ("call:delay", "call:apply_async",
         *_kinds("call-option", "args kwargs countdown eta expires queue priority task_id link link_error "
                 "headers ignore_result time_limit soft_time_limit")), ""),
    Row(S_CALLING, "`retries`, `root_id`, `parent_id`, `group_id`, `group_index` (set by Celery's own "
        "re-sends), `send_task(add_to_parent=)`", "supported",
        _kinds("call-option", "retries root_id parent_id group_id group_index add_to_parent"), ""),
    Row(S_CALLING, "other `apply_async` options (`exchange`, `routing_key`, `retry`, `retry_policy`, "
        "`shadow`, `compression`, `producer`, ...)", "unsupported", ("call-option:*",),
        "accepted and ignored"),
    Row(S_CALLING, "`apply`, `__call__` (runs inline, `called_directly`)", "supported", ("call:apply",), ""),
    Row(S_CALLING, "`s`, `si`, `signature`, `subtask`, `map`, `starmap`, `chunks`", "supported",
        _kinds("canvas", "s si signature subtask map starmap chunks"), ""),
    Row(S_CALLING, "`self.retry(exc, countdown, eta, max_retries, throw, args, kwargs)`", "supported",
        ("call:retry",), "see Retries"),
    Row(S_CALLING, "arguments JSON cannot carry (model instances, querysets, objects of your classes, "
        "`request`, `self`, sets, lambdas, generators, open files)", "unsupported",
        _kinds("arg-risk", "model-instance queryset object request self set lambda generator file"),
        "EncodeError at the call site: pass an id instead"),
    # -- results ---------------------------------------------------------------------------------
    Row(S_RESULTS, "`revoke()`", "supported", ("result:revoke",),
        "terminate=True stops the running task's thread, not its process"),
    # -- remote control --------------------------------------------------------------------------
    Row(S_CONTROL, "`ping`, `broadcast(", "supported",
        (*_kinds("control", "ping broadcast inspect"), "control:*"), "answered by live worker processes"),
    Row(S_CONTROL, "`inspect()`: ", "supported",
        (*_kinds("inspect", "ping active reserved scheduled registered registered_tasks stats active_queues "
                 "revoked query_task conf report"), "inspect:*"), "Celery's reply shapes"),
    Row(S_CONTROL, "`revoke(ids, terminate=True", "differs", _kinds("control", "revoke terminate"),
        "terminate raises TaskTerminated in the task's thread; no process is killed"),
    Row(S_CONTROL, "`purge()`", "differs", _kinds("control", "purge discard_all"),
        "returns the count; also purges the queues task_routes names"),
    Row(S_CONTROL, "`rate_limit`, `time_limit`", "supported",
        _kinds("control", "rate_limit time_limit add_consumer cancel_consumer pool_grow pool_shrink"),
        "per worker process"),
    Row(S_CONTROL, "`shutdown`, `pool_restart`", "differs", _kinds("control", "shutdown pool_restart"),
        "acts on the node's whole worker group; pool_restart needs compat.supervisor"),
    Row(S_CONTROL, "`autoscale`, `enable_events`", "unsupported",
        (*_kinds("control", "autoscale enable_events disable_events heartbeat election "
                 "revoke_by_stamped_headers"), *_kinds("inspect", "clock hello memsample memdump objgraph")),
        "NotImplementedError naming the alternative"),
    # -- canvas ----------------------------------------------------------------------------------
    Row(S_CANVAS, "`chain`: ", "supported", ("canvas:chain",), ""),
    Row(S_CANVAS, "`group`: ", "supported", ("canvas:group",), "enqueued in one round trip"),
    Row(S_CANVAS, "`chord(header)(body)`, `chord(header, body)`: ", "supported", ("canvas:chord",),
        "the body runs exactly once"),
)

_BY_KIND: dict[str, Row] = {}
for _row in ROWS:
    for _kind in _row.kinds:
        if _kind in _BY_KIND:
            raise RuntimeError(f"usage kind {_kind!r} is classified twice")
        _BY_KIND[_kind] = _row

#: Categories the scanner reports; each has a ``<category>:*`` fallback or lists all its names.
CATEGORIES = frozenset(kind.split(":", 1)[0] for kind in _BY_KIND)


def classify(kind: str) -> Row:
    """The row for ``kind``; else the nearest dotted wildcard (``import:celery.*``), else the category's
    fallback (``setting:*``). KeyError when there is none: a gap in the table, which the tests catch."""
    row = _BY_KIND.get(kind)
    if row is not None:
        return row
    category, _, name = kind.partition(":")
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        row = _BY_KIND.get(f"{category}:{'.'.join(parts[:end])}.*")
        if row is not None:
            return row
    return _BY_KIND[f"{category}:*"]


def runtime(kind: str) -> str:
    """What compat does when a project uses ``kind``: "honoured", "error" or "warn" (``Row.runtime``)."""
    row = classify(kind)
    if kind in row.raises:
        return "error"
    if row.runtime:
        return row.runtime
    return "warn" if row.status == "unsupported" else "honoured"


def explicit(kind: str) -> bool:
    """Whether ``kind`` has its own entry (not only its category's fallback)."""
    return kind in _BY_KIND
