"""``compat.Celery``: the application object: configuration, task registry, broker, result store, sending."""

from __future__ import annotations

import importlib
import os
import socket
import threading
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import dramatiq
from dramatiq.message import Message

from . import publishing, serialization, signals
from . import request as requests
from .annotations import annotate
from .brokers import make_broker
from .canvas.builtins import register_builtins
from .check.runtime import check_options, check_passed, check_settings
from .config import Settings
from .control import Control
from .exceptions import (
    AlwaysEagerIgnored,
    EncodeError,
    ImproperlyConfigured,
    NotRegistered,
    OperationalError,
)
from .messages import build_message
from .middleware.rate_limit import parse_rate
from .registry import (  # noqa: F401 - find_task and TaskRegistry are imported from here too
    TaskRegistry,
    bound_task_class,
    default_task_class,
    find_task,
    gen_task_name,
)
from .results import AsyncResult, GroupResult, store_from_url
from .results.bound import bound_to
from .retries import expected_exceptions
from .routing import build_routers, route
from .task import Task
from .utils.ids import uuid4_str

_current_app: Celery | None = None

#: Task options Celery reads from a setting when they are unset (None).
_UNSET = frozenset({"ignore_result", "track_started", "acks_late", "typing", "priority"})


def get_current_app() -> Celery:
    """The app tasks declared with ``shared_task`` bind to (the last created, or a default one)."""
    global _current_app
    if _current_app is None:
        _current_app = Celery("default")
    return _current_app


class Celery:
    """A Celery-compatible application backed by a Dramatiq broker and a Redis state store."""

    strict_typing = True

    def __init__(
        self,
        main: str | None = None,
        broker: str | None = None,
        backend: str | None = None,
        *,
        include: Iterable[str] | None = None,
        set_as_current: bool = True,
        namespace: str | None = None,
        strict_typing: bool = True,
        task_cls: type[Task] | str | None = None,
        **settings: Any,
    ) -> None:
        global _current_app
        self.main = main
        self.conf = Settings(settings)
        if broker:
            self.conf.broker_url = broker
        if backend:
            self.conf.result_backend = backend
        if include:
            self.conf.include = tuple(include)
        if namespace:
            self.conf.set_source(None, namespace)
        self.strict_typing = strict_typing
        self.tasks = TaskRegistry()
        self._broker: dramatiq.Broker | None = None
        self._broker_ready = False
        self._finalizing = threading.RLock()
        self._backend: Any = None
        self._routers: tuple[Any, list] | None = None
        self._autodiscover: list[tuple[Any, str]] = []
        self.worker_hostname = f"worker-{os.getpid()}@{socket.gethostname()}"
        self.control = Control(self)  # Celery's app.control and app.control.inspect(), answered by workers
        self.task_cls = task_cls  # resolved when the first task is declared, as Celery's app.Task is
        self._task_base: type[Task] | None = None
        if set_as_current:
            _current_app = self

    @property
    def Task(self) -> type[Task]:  # noqa: N802 - Celery's name
        """The base class of this app's tasks: ``task_cls`` (a class or ``"module:Class"``), bound to it."""
        if self._task_base is None:
            bound = bound_task_class(self, self.task_cls)  # its import may declare tasks (and set it)
            self._task_base = self._task_base or bound
        return self._task_base

    @Task.setter
    def Task(self, value: type[Task]) -> None:  # noqa: N802 - Celery's app.Task can be assigned too
        self._task_base = value

    def __repr__(self) -> str:
        return f"<Celery {self.main} broker={self.conf.broker_url!r}>"

    def set_current(self) -> None:
        """Make this the app ``current_app`` and ``shared_task`` use (Celery's ``app.set_current()``)."""
        global _current_app
        _current_app = self

    # -- configuration -----------------------------------------------------------------------------
    def config_from_object(
        self, obj: Any, silent: bool = False, force: bool = False, namespace: str | None = None
    ) -> None:
        """Read settings from an object, module, mapping or import path (``'django.conf:settings'``)."""
        self.conf.set_source(obj, namespace)
        if force:
            self.conf._get_source()

    def autodiscover_tasks(
        self, packages: Any = None, related_name: str = "tasks", force: bool = False
    ) -> None:
        """Import ``<package>.tasks`` for each package (Django's installed apps when none are given)."""
        self._autodiscover.append((packages, related_name))
        if force:
            self.discover_now()

    def discover_now(self) -> list[str]:
        """Run pending autodiscovery; returns the modules imported."""
        imported = []
        pending, self._autodiscover = self._autodiscover, []
        for packages, related_name in pending:
            if callable(packages):
                packages = packages()
            if packages is None:
                from django.apps import apps

                packages = [config.name for config in apps.get_app_configs()]
            for package in packages:
                module_name = f"{package}.{related_name}"
                try:
                    importlib.import_module(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name not in (module_name, package):
                        raise
                    continue
                imported.append(module_name)
        for module_name in tuple(self.conf.imports or ()) + tuple(self.conf.include or ()):
            importlib.import_module(module_name)
            imported.append(module_name)
        return imported

    # -- infrastructure ----------------------------------------------------------------------------
    @property
    def broker(self) -> dramatiq.Broker:
        """The Dramatiq broker (created on first use from ``broker_url``, and made Dramatiq's global).

        Threads that first send at the same moment wait for one broker: two would each keep their own
        connections and publishing pool (``broker_pool_limit`` is per process).
        """
        if self._broker_ready:
            return self._broker  # type: ignore[return-value]
        with self._finalizing:  # re-entrant: finalizing may read app.broker again
            if self._broker is None:
                check_settings(self)  # finalize: refuse what compat cannot do, warn once about the rest
                self._broker = make_broker(self)
                dramatiq.set_broker(self._broker)
                for queue_name in self.routed_queues():
                    self._broker.declare_queue(queue_name)
                register_builtins(self)
                self._broker_ready = True
            return self._broker

    @property
    def backend(self) -> Any:
        """The result/state store for ``result_backend`` (one per app, however many threads first ask)."""
        if self._backend is not None:
            return self._backend
        with self._finalizing:
            if self._backend is None:
                expires = self.conf.result_expires
                if isinstance(expires, timedelta):
                    expires = expires.total_seconds()
                self._backend = store_from_url(
                    self.conf.result_backend, namespace=self.conf.result_namespace, expires=expires, app=self
                )
            return self._backend

    def routed_queues(self) -> set[str]:
        """Every queue the routes name, plus the default queue: a worker consumes all of them."""
        queues = {self.conf.task_default_queue}
        setting = self.conf.task_routes
        items: list[Any] = []
        for router in build_routers(setting):
            mapping = getattr(router, "exact", None)
            if mapping is not None:
                items.extend(mapping.values())
                items.extend(route for _, route in router.patterns)
        for item in items:
            queue = item if isinstance(item, str) else (item or {}).get("queue")
            if queue:
                queues.add(queue)
        return queues

    def route_for(
        self, name: str, args: Any = None, kwargs: Any = None, options: Any = None, task: Any = None
    ) -> dict[str, Any]:
        setting = self.conf.task_routes
        if self._routers is None or self._routers[0] is not setting:
            self._routers = (setting, build_routers(setting))
        return route(self._routers[1], name, args, kwargs, options, task)

    def new_id(self) -> str:
        return uuid4_str()

    def close(self) -> None:
        if self._broker is not None:
            self._broker.close()

    # -- tasks -------------------------------------------------------------------------------------
    def task(self, *args: Any, **options: Any) -> Any:
        """Declare a task: ``@app.task``, ``@app.task(**options)`` or ``app.task(fun)``."""
        if len(args) == 1 and callable(args[0]) and not options:
            return self._task_from_fun(args[0])
        if args:
            if len(args) > 1:
                raise TypeError(f"@task() takes exactly 1 argument ({len(args)} given)")
            if not callable(args[0]):
                raise TypeError("argument 1 to @task() must be a callable")
            return self._task_from_fun(args[0], **options)
        return lambda fun: self._task_from_fun(fun, **options)

    def _task_from_fun(
        self,
        fun: Callable[..., Any],
        name: str | None = None,
        base: type | None = None,
        bind: bool = False,
        **options: Any,
    ) -> Task:
        name = name or gen_task_name(self, fun)
        if name in self.tasks:
            return self.tasks[name]
        base = base or self.Task
        serializer = options.get("serializer") or self.conf.task_serializer
        if serializer != "json":
            raise ImproperlyConfigured(f"{name}: serializer {serializer!r} is not supported; only 'json' is")
        check_options(self, "task-option", options, options)
        if options.get("rate_limit") is not None:
            parse_rate(options["rate_limit"])
        if not (isinstance(base, type) and issubclass(base, Task)):
            raise TypeError(f"base={base!r} must be a compat.Task subclass")
        # An unset (None) option leaves Celery's default, which reads the setting (compat.task.FromSetting).
        options = {key: value for key, value in options.items() if value is not None or key not in _UNSET}
        attrs = {
            "app": self,
            "name": name,
            "bind": bind,
            "_function": staticmethod(fun),
            "__doc__": fun.__doc__,
            "__module__": fun.__module__,
            "__wrapped__": fun,
            "run": fun if bind else staticmethod(fun),
            **options,
        }
        cls = type(fun.__name__, (base,), attrs)
        annotate(cls, self.conf.task_annotations)  # Celery applies them when the task is bound: they win
        cls.on_bound(self)
        queue = cls.queue or self.route_for(name).get("queue") or self.conf.task_default_queue
        time_limit = cls.time_limit if cls.time_limit is not None else self.conf.task_time_limit
        actor_options: dict[str, Any] = {"time_limit": time_limit * 1000 if time_limit else float("inf")}
        # Dramatiq's worker logs "expected" exceptions at INFO without a traceback: Celery's retry/ignore/
        # reject signals are control flow, not errors, and the user's ``throws`` are expected failures.
        actor_options["throws"] = expected_exceptions(cls.throws)
        if options.get("periodic") is not None:  # periodiq's option: the scheduler daemon reads it here
            actor_options["periodic"] = options["periodic"]
        priority = cls.__dict__.get("priority")
        task = cls(
            fun,
            broker=self.broker,
            actor_name=name,
            queue_name=queue,
            priority=priority if isinstance(priority, int) else 0,
            options=actor_options,
        )
        self.tasks[name] = task
        return task

    def resolve_name(self, name: str) -> str:
        """A registered name as is; a bare short name to the one task ending with ``.name``."""
        if name in self.tasks or "." in name:
            return name
        candidates = sorted(known for known in self.tasks if known.endswith("." + name))
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise NotRegistered(
                f"Task name {name!r} is ambiguous; it could be any of: {', '.join(candidates)}"
            )
        raise NotRegistered(f"No task named {name!r} and no registered task ends with '.{name}'")

    # -- sending -----------------------------------------------------------------------------------
    def send_task(
        self,
        name: str,
        args: Any = None,
        kwargs: Any = None,
        countdown: float | None = None,
        eta: datetime | str | None = None,
        task_id: str | None = None,
        producer: Any = None,
        connection: Any = None,
        router: Any = None,
        result_cls: Any = None,
        expires: Any = None,
        publisher: Any = None,
        link: Any = None,
        link_error: Any = None,
        add_to_parent: bool = True,
        task_type: Any = None,
        **options: Any,
    ) -> Any:
        """Send a task by name to its routed queue, whether or not it is registered here."""
        if producer is not None or connection is not None or router is not None or publisher is not None:
            check_passed(self, producer=producer, connection=connection, router=router, publisher=publisher)
        if task_type is None:
            if self.conf.task_always_eager:
                warnings.warn(
                    AlwaysEagerIgnored("task_always_eager has no effect on send_task"), stacklevel=2
                )
            name = self.resolve_name(name)
        message, delay = self.build_message(
            name,
            args,
            kwargs,
            countdown=countdown,
            eta=eta,
            task_id=task_id,
            expires=expires,
            link=link,
            link_error=link_error,
            task=task_type or self.tasks.get(name),
            **options,
        )
        self.enqueue([(message, delay)])
        return self.result_for_message(message, result_cls, add_to_parent)

    def result_for_message(self, message: Message, result_cls: Any = None, add_to_parent: bool = True) -> Any:
        result = (result_cls or AsyncResult)(message.message_id, app=self, task_name=message.actor_name)
        result.ignored = bool(message.options.get("ignore_result"))
        running = requests.current()
        if add_to_parent and running is not None and running[0].trail:
            running[1].children.append(result)
        return result

    def enqueue(self, items: list[tuple[Message, int | None]]) -> list[Message]:
        """Enqueue messages in one round trip, with the publish signals when someone listens."""
        if (
            signals.before_task_publish.receivers
            or signals.after_task_publish.receivers
            or signals.task_sent.receivers
        ):
            return publishing.enqueue_with_signals(self, items)
        return self.enqueue_now(items)

    def enqueue_now(self, items: list[tuple[Message, int | None]]) -> list[Message]:
        """Enqueue messages in one round trip, naming the argument JSON cannot carry if one fails."""
        broker = self.broker
        try:
            return broker.enqueue_many(items, owned=True)  # messages built for this send only
        except broker.connection_errors as exc:
            raise OperationalError(
                f"Cannot reach the broker at {_safe_url(self.conf.broker_url)}: {exc}"
            ) from exc
        except (EncodeError, TypeError) as exc:
            for message, _ in items:
                named = serialization.describe_encode_error(message.actor_name, message.args, message.kwargs)
                if named is not None:
                    raise named from exc
            raise EncodeError(f"Message cannot be encoded as JSON: {exc}") from exc

    def build_message(self, name: str, args: Any = None, kwargs: Any = None, **options: Any):
        """The message (and delay in ms) for one call of task ``name``: ``compat.messages.build_message``."""
        return build_message(self, name, args, kwargs, **options)

    # -- results and canvas ------------------------------------------------------------------------
    @cached_property
    def AsyncResult(self) -> type:  # noqa: N802 - Celery's name: a class bound to this app
        return bound_to(AsyncResult, self)

    @cached_property
    def GroupResult(self) -> type:  # noqa: N802 - Celery's name: a class bound to this app
        return bound_to(GroupResult, self)

    def signature(self, *args: Any, **kwargs: Any) -> Any:
        from .canvas import signature

        kwargs.setdefault("app", self)
        return signature(*args, **kwargs)


def _safe_url(url: str | None) -> str:
    """``url`` without its password, for error messages."""
    if not url or "@" not in url:
        return str(url)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
