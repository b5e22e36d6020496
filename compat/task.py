"""``compat.Task``: a Celery task that is a Dramatiq actor.

Each task is an instance of a per-task subclass (Celery's shape: options become class attributes) of
:class:`Task`, which subclasses :class:`dramatiq.Actor`; so ``.send()``, the stock ``dramatiq`` worker, its
middleware and ``StubBroker`` all keep working, and Celery code calls ``.delay()``/``.apply_async()``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dramatiq

from . import request as requests
from . import retries, runs, serialization, states, trace, worker_queue
from .check.runtime import check_passed
from .exceptions import Retry
from .request import Context
from .typing_check import header_of

worker_queue.install()


def is_facade_task(broker: Any, message: Any) -> Task | None:
    """The facade task a message is for, or None for plain Dramatiq actors and unknown names."""
    actor = broker.actors.get(message.actor_name)
    return actor if isinstance(actor, Task) else None


def has_custom(task: Any, name: str) -> bool:
    """Whether ``task``'s class overrides ``compat.Task``'s method ``name`` (Celery's ``task_has_custom``).

    Celery sends through the task's own ``apply_async`` from signatures, chains, groups, chords, callbacks and
    retries, and calls its own ``__call__`` in the tracer: compat does so where a class overrides them.
    """
    return getattr(type(task), name, None) is not getattr(Task, name)


class FromSetting:
    """A task attribute Celery fills from a setting when the task's class leaves it unset.

    Celery copies the setting onto the class when the task is bound to its app; here the setting is read
    when the attribute is (compat declares tasks at import time, possibly before the app is configured), so
    ``task.ignore_result`` reads ``False``, not None, and still follows ``task_ignore_result``. A value in a
    task's class (an option, a base class, an annotation) shadows it.
    """

    def __init__(self, setting: str, default: Any = None) -> None:
        self.setting = setting
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        app = getattr(owner, "app", None)
        if app is None:
            return self.default
        if self.setting == "strict_typing":
            return app.strict_typing
        return app.conf.get(self.setting, self.default)


class Task(dramatiq.Actor):
    """Base class of every facade task. Celery attributes are class attributes of each task's class."""

    name: str = ""
    app: Any = None
    bind = False
    typing: Any = FromSetting("strict_typing", True)
    max_retries: int | None = 3
    default_retry_delay = 180
    rate_limit = None
    ignore_result: Any = FromSetting("task_ignore_result", False)
    store_errors_even_if_ignored = False
    track_started: Any = FromSetting("task_track_started", False)
    acks_late: Any = FromSetting("task_acks_late", False)
    time_limit: float | None = None
    soft_time_limit: float | None = None
    autoretry_for: tuple = ()
    dont_autoretry_for: tuple = ()
    retry_kwargs: Mapping[str, Any] = {}
    retry_backoff: bool | float = False
    retry_backoff_max = 600
    retry_jitter = True
    throws: tuple = ()
    serializer = "json"
    queue: str | None = None
    expires = None
    trail = True
    Request = Context
    #: Dramatiq's own priority of the actor (its order in a worker's in-process queue, see
    #: ``compat.worker_queue``); Celery's ``priority`` is the attribute below.
    actor_priority = 0

    @property  # type: ignore[override]
    def priority(self) -> Any:
        """Celery's ``task.priority`` when no option, base class or annotation sets one: the setting."""
        return self.app.conf.task_default_priority if self.app is not None else None

    @priority.setter
    def priority(self, value: Any) -> None:  # Dramatiq's Actor.__init__ sets its own priority here
        self.actor_priority = value

    # -- Dramatiq entry point ----------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task inline; when a worker delivers this task's message, run it as that message."""
        run = runs.enter(self.actor_name)
        if run is not None:
            return self._execute_run(run, args, kwargs)
        # Celery's push_request: this task's current request (none: a direct call) with these arguments
        current = requests.request_of(self)
        fields = dict(current.__dict__) if current is not None else {"called_directly": True, "id": None}
        fields.update(args=args, kwargs=dict(kwargs))
        request = Context(**fields)
        with requests.executing(self, request):
            return self.run(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:  # replaced by the task's function
        raise NotImplementedError("Tasks must define the run method.")

    def _execute_run(self, run: runs.Run, args: Any, kwargs: Any) -> Any:
        """Worker path: run as the run's message; a result JSON cannot carry fails the task (EncodeError)."""
        message = run.message
        request = run.request = self.request_from_message(message)
        result = self.execute(request, args, kwargs)
        if not message.options.get("ignore_result"):
            run.result_json = serialization.dumps(result)
        return result

    def execute(self, request: Context, args: Any, kwargs: Any) -> Any:
        """Run the body with ``request`` pushed, applying ``autoretry_for``; results are checked elsewhere."""
        return requests.run_as_worker(self, request, self._run_body, args, kwargs)

    def _run_body(self, request: Context, args: Any, kwargs: Any) -> Any:
        if has_custom(self, "__call__"):  # Celery's tracer signals with the message's arguments
            trace.before_body(self, request, request.args, request.kwargs)
        else:
            trace.before_body(self, request, args, kwargs)
        return retries.run_with_autoretry(self, request, args, kwargs)

    def request_from_message(self, message: Any) -> Context:
        """Build Celery's request for a message a worker is processing."""
        options = message.options
        get = options.get
        message_id = message.message_id
        headers = get("headers")
        fields = {
            "id": message_id,
            "task": self.name,
            "retries": get("retries", 0),
            "args": list(message.args),
            "kwargs": dict(message.kwargs),
            "is_eager": False,
            "called_directly": False,
            "root_id": get("root_id") or message_id,
            "parent_id": get("parent_id"),
            "group": get("group_id"),
            "group_index": get("group_index"),
            "headers": headers,
            "delivery_info": {
                "exchange": "",
                "routing_key": message.queue_name,
                "priority": get("priority", 0),
                "redelivered": bool(getattr(message, "redelivered", False)),
            },
            "hostname": self.app.worker_hostname if self.app else socket.gethostname(),
            "eta": get("eta_iso"),
            "expires": get("expires_iso"),
            "chain": get("chain"),
            "chord": get("chord"),
            "callbacks": get("link"),
            "errbacks": get("link_error"),
            "ignore_result": get("ignore_result", False),
            "_options": options,
            "_message": message,
        }
        if headers:
            fields.update(headers)
        return Context.from_fields(fields)

    # -- request -----------------------------------------------------------------------------------
    @property
    def request(self) -> Context:
        """The request of the running execution of this task in this thread (an empty one outside)."""
        return requests.request_of(self) or Context(called_directly=True)

    # -- calling -----------------------------------------------------------------------------------
    def delay(self, *args: Any, **kwargs: Any) -> Any:
        """Send the task with these arguments (Celery's ``delay``)."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: Any = None,
        **options: Any,
    ) -> Any:
        """Send the task (or run it inline under ``task_always_eager``) and return its result handle."""
        resend = runs.retry_send()
        if resend is not None and resend[0] is self and task_id == resend[1].id:
            # ``retry()`` of a task class overriding apply_async: the re-send waits for the retries middleware
            return retries.queue_resend(self, resend[1], args, kwargs, **options)
        if self.soft_time_limit and self.time_limit and self.soft_time_limit > self.time_limit:
            raise ValueError("soft_time_limit must be less than or equal to time_limit")
        self.check_arguments(args, kwargs)
        app = self.app
        if producer is not None or shadow is not None:
            check_passed(app, producer=producer, shadow=shadow)  # honoured or warned once, never dropped
        if app.conf.task_always_eager:
            args, kwargs = serialization.roundtrip([list(args or ()), dict(kwargs or {})])
            with requests.denied_join():
                return self.apply(
                    args, kwargs, task_id=task_id or app.new_id(), link=link, link_error=link_error, **options
                )
        return app.send_task(
            self.name,
            args,
            kwargs,
            task_id=task_id,
            link=link,
            link_error=link_error,
            task_type=self,
            **options,
        )

    def check_arguments(self, args: Any, kwargs: Any) -> None:
        """Raise Python's ``TypeError`` now if the call cannot bind (unless ``typing=False``)."""
        typing = self.typing if self.typing is not None else self.app.strict_typing
        if not typing:
            return
        header = self.__dict__.get("_header") or type(self).__dict__.get("_header")
        if header is None:
            header = header_of(self._function, bound=self.bind)
            type(self)._header = header
        header(*(args or ()), **(kwargs or {}))

    def apply(
        self,
        args: Any = None,
        kwargs: Any = None,
        link: Any = None,
        link_error: Any = None,
        task_id: str | None = None,
        retries: int | None = None,
        throw: bool | None = None,
        headers: Mapping | None = None,
        **options: Any,
    ) -> Any:
        """Run the task here and now, returning an ``EagerResult`` (Celery's ``apply``)."""
        from .eager import apply_task

        return apply_task(
            self,
            args,
            kwargs,
            link=link,
            link_error=link_error,
            task_id=task_id,
            retries=retries,
            throw=throw,
            headers=headers,
            **options,
        )

    # -- retries -----------------------------------------------------------------------------------
    def retry(
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: datetime | None = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Retry:
        """Retry this task (same id, ``retries + 1``) and raise ``Retry``; past the limit, fail.

        The policy is ``compat.retries.retry``; in a worker the re-send happens in the retries middleware.
        """
        return retries.retry(
            self,
            args,
            kwargs,
            exc=exc,
            throw=throw,
            eta=eta,
            countdown=countdown,
            max_retries=max_retries,
            **options,
        )

    def replace(self, sig: Any) -> Any:
        """Replace this execution with ``sig``: its id resolves to ``sig``'s outcome (``compat.replace``)."""
        from .replace import replace

        return replace(self, sig)

    def on_replace(self, sig: Any) -> Any:
        """Called by ``replace`` with the prepared replacement; runs or sends it (Celery 5.3's hook)."""
        from .replace import run_replacement

        return run_replacement(self, sig)

    @classmethod
    def on_bound(cls, app: Any) -> None:
        """Called when a task class is declared on ``app`` (Celery's, when it is bound)."""

    # -- state -------------------------------------------------------------------------------------
    def update_state(
        self, task_id: str | None = None, state: str | None = None, meta: Any = None, **kwargs: Any
    ) -> None:
        """Store a custom state (e.g. ``PROGRESS``) for this or another task id."""
        task_id = task_id or self.request.id
        if task_id:
            self.app.backend.set_state(task_id, states.custom(task_id, state, meta))

    def AsyncResult(self, task_id: str, **kwargs: Any) -> Any:  # noqa: N802 - Celery's name
        """A result handle for ``task_id`` of this task."""
        return self.app.AsyncResult(task_id, task_name=self.name, **kwargs)

    # -- signatures --------------------------------------------------------------------------------
    def signature(self, args: Any = None, *starargs: Any, **starkwargs: Any) -> Any:
        """A signature of this task (Celery's ``task.signature(args, kwargs, **options)``)."""
        from .canvas import Signature

        kwargs = starkwargs.pop("kwargs", None)
        options = starkwargs.pop("options", None)
        immutable = starkwargs.pop("immutable", False)
        if starargs:
            kwargs = starargs[0]
        return Signature(
            self.name, args, kwargs, {**(options or {}), **starkwargs}, immutable=immutable, app=self.app
        )

    subtask = signature

    def s(self, *args: Any, **kwargs: Any) -> Any:
        """``task.s(*args, **kwargs)``: a partial signature."""
        return self.signature(args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Any:
        """``task.si(*args, **kwargs)``: an immutable signature (ignores parent results)."""
        return self.signature(args, kwargs, immutable=True)

    def map(self, it: Any) -> Any:
        from .canvas import xmap

        return xmap(self.s(), it, app=self.app)

    def starmap(self, it: Any) -> Any:
        from .canvas import xstarmap

        return xstarmap(self.s(), it, app=self.app)

    def chunks(self, it: Any, n: int) -> Any:
        from .canvas import chunks

        return chunks(self.s(), it, n, app=self.app)

    # -- handlers Celery calls (override in a base class) ------------------------------------------
    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        """Called just before the body runs (after ``task_prerun``)."""

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """Called in the worker after the task succeeded."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Called in the worker after the task failed for good."""

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Called in the worker when the task is retried."""

    def after_return(
        self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called in the worker after every execution."""

    def __repr__(self) -> str:
        return f"<@task: {self.name} of {self.app.main if self.app else None}>"

    def __reduce__(self):
        from .app import find_task

        return find_task, (self.name,)
