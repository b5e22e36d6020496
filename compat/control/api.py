"""``app.control`` and ``app.control.inspect()``: Celery's remote-control API, answered by live workers.

Requests go out on the control channel (``mailbox.py``) and each worker process answers for itself
(``worker.py``, ``commands.py``). Replies have Celery's shapes: ``broadcast`` and the ``Control`` methods
return a list of ``{node: reply}`` (or None with ``reply=False``), ``Inspect`` methods a dict
``{node: reply}`` (None when no worker answered within ``timeout``). ``destination`` is a list of node
names (``worker-<pid>@<host>``, as ``ping()`` shows them); with one, the call returns as soon as every
named node answered.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from .. import states
from ..exceptions import TaskRevokedError
from ..stores import redis_for

TERM_SIGNAME = "SIGTERM"


def flatten_reply(replies: list[dict[str, Any]]) -> dict[str, Any]:
    """``[{'a': r1}, {'b': r2}]`` -> ``{'a': r1, 'b': r2}`` (Celery's ``flatten_reply``)."""
    nodes: dict[str, Any] = {}
    for item in replies:
        nodes.update(item)
    return nodes


def _not_here(name: str, instead: str) -> NotImplementedError:
    return NotImplementedError(f"app.control.{name}() is not supported by compat: {instead}")


class Inspect:
    """Celery's ``app.control.inspect()``: each method returns ``{node: reply}`` or None."""

    def __init__(
        self,
        destination: Any = None,
        timeout: float = 1.0,
        callback: Any = None,
        connection: Any = None,
        app: Any = None,
        limit: int | None = None,
        pattern: str | None = None,
        matcher: str | None = None,
    ) -> None:
        if pattern is not None or matcher is not None:
            raise NotImplementedError(
                "inspect(pattern=, matcher=) is not supported: pass destination=[nodes]"
            )
        self.app = app
        self.destination = destination
        self.timeout = timeout
        self.callback = callback
        self.limit = limit

    def _request(self, command: str, **arguments: Any) -> dict[str, Any] | None:
        replies = self.app.control.broadcast(
            command,
            arguments=arguments,
            destination=self.destination,
            reply=True,
            timeout=self.timeout,
            limit=self.limit,
            callback=self.callback,
        )
        if not replies:
            return None
        by_node = flatten_reply(replies)
        if self.destination and not isinstance(self.destination, (list, tuple)):
            return by_node.get(self.destination)
        return by_node

    def ping(self, destination: Any = None) -> dict[str, Any] | None:
        if destination is not None:
            self.destination = destination
        return self._request("ping")

    def active(self, safe: bool | None = None) -> dict[str, Any] | None:
        return self._request("active", safe=safe)

    def reserved(self, safe: bool | None = None) -> dict[str, Any] | None:
        return self._request("reserved")

    def scheduled(self, safe: bool | None = None) -> dict[str, Any] | None:
        return self._request("scheduled")

    def revoked(self) -> dict[str, Any] | None:
        return self._request("revoked")

    def registered(self, *taskinfoitems: str) -> dict[str, Any] | None:
        return self._request("registered", taskinfoitems=taskinfoitems)

    registered_tasks = registered

    def stats(self) -> dict[str, Any] | None:
        return self._request("stats")

    def active_queues(self) -> dict[str, Any] | None:
        return self._request("active_queues")

    def query_task(self, *ids: Any) -> dict[str, Any] | None:
        if len(ids) == 1 and isinstance(ids[0], (list, tuple)):
            ids = tuple(ids[0])
        return self._request("query_task", ids=list(ids))

    def conf(self, with_defaults: bool = False) -> dict[str, Any] | None:
        return self._request("conf", with_defaults=with_defaults)

    def report(self) -> dict[str, Any] | None:
        return self._request("report")

    def clock(self) -> Any:
        raise NotImplementedError("inspect().clock() is not supported: compat workers keep no logical clock")

    def hello(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "inspect().hello() is not supported: revocations are kept by the result store"
        )

    def memsample(self) -> Any:
        raise NotImplementedError("inspect().memsample() is not supported: see stats()['rusage']['maxrss']")

    def memdump(self, samples: int = 10) -> Any:
        raise NotImplementedError("inspect().memdump() is not supported: see stats()['rusage']['maxrss']")

    def objgraph(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("inspect().objgraph() is not supported: profile the worker with py-spy")


class Control:
    """Celery's ``app.control``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @cached_property
    def mailbox(self) -> Any:
        from .mailbox import Mailbox

        return Mailbox(self.app)

    def inspect(self, destination: Any = None, timeout: float = 1.0, **kwargs: Any) -> Inspect:
        return Inspect(destination=destination, timeout=timeout, app=self.app, **kwargs)

    def broadcast(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        destination: Any = None,
        connection: Any = None,
        reply: bool = False,
        timeout: float = 1.0,
        limit: int | None = None,
        callback: Any = None,
        channel: Any = None,
        pattern: str | None = None,
        matcher: str | None = None,
        **extra_kwargs: Any,
    ) -> list[dict[str, Any]] | None:
        """Send ``command`` to every worker (or the ``destination`` nodes); the replies with ``reply``."""
        if pattern is not None or matcher is not None:
            raise NotImplementedError(
                "broadcast(pattern=, matcher=) is not supported: pass destination=[nodes]"
            )
        if isinstance(destination, str):
            destination = [destination]
        elif destination is not None and not isinstance(destination, (list, tuple)):
            raise ValueError(f"destination must be a list/tuple not {type(destination)}")
        destination = list(destination) if destination else None
        if limit is None and destination:
            limit = len(destination)
        arguments = dict(arguments or {}, **extra_kwargs)
        return self.mailbox.broadcast(command, arguments, destination, reply, float(timeout), limit, callback)

    # -- the broker ---------------------------------------------------------------------------------
    def purge(self, connection: Any = None) -> int:
        """Discard every message waiting in the app's queues (not the ones workers hold); the count."""
        broker = self.app.broker
        declared = {queue for queue in broker.get_declared_queues() if not queue.endswith(".DQ")}
        return broker.purge(sorted(self.app.routed_queues() | declared))

    discard_all = purge

    # -- tasks ----------------------------------------------------------------------------------------
    def revoke(
        self,
        task_id: Any,
        destination: Any = None,
        terminate: bool = False,
        signal: str = TERM_SIGNAME,
        **kwargs: Any,
    ) -> list[dict[str, Any]] | None:
        """Revoke tasks by id: no worker will start them; with ``terminate``, running ones stop."""
        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        backend = self.app.backend
        if backend.enabled:
            backend.revoke(ids)  # kept, so a worker that starts later skips them too
            for one in ids:
                backend.set_state(one, states.revoked(one, TaskRevokedError("revoked")))
        if redis_for(self.app) is None and not terminate and not kwargs.get("reply"):
            return None  # an in-memory app: the store's revocations are all its workers follow
        return self.broadcast(
            "revoke",
            destination=destination,
            arguments={"task_id": ids, "terminate": terminate, "signal": signal},
            **kwargs,
        )

    def terminate(
        self, task_id: Any, destination: Any = None, signal: str = TERM_SIGNAME, **kwargs: Any
    ) -> Any:
        return self.revoke(task_id, destination=destination, terminate=True, signal=signal, **kwargs)

    def ping(self, destination: Any = None, timeout: float = 1.0, **kwargs: Any) -> list[dict[str, Any]]:
        return self.broadcast(
            "ping", reply=True, arguments={}, destination=destination, timeout=timeout, **kwargs
        )

    def rate_limit(self, task_name: str, rate_limit: Any, destination: Any = None, **kwargs: Any) -> Any:
        return self.broadcast(
            "rate_limit",
            destination=destination,
            arguments={"task_name": task_name, "rate_limit": rate_limit},
            **kwargs,
        )

    def time_limit(
        self,
        task_name: str,
        soft: float | None = None,
        hard: float | None = None,
        destination: Any = None,
        **kwargs: Any,
    ) -> Any:
        return self.broadcast(
            "time_limit",
            arguments={"task_name": task_name, "hard": hard, "soft": soft},
            destination=destination,
            **kwargs,
        )

    # -- workers ----------------------------------------------------------------------------------------
    def add_consumer(
        self,
        queue: str,
        exchange: Any = None,
        exchange_type: str = "direct",
        routing_key: Any = None,
        options: Any = None,
        destination: Any = None,
        **kwargs: Any,
    ) -> Any:
        return self.broadcast("add_consumer", destination=destination, arguments={"queue": queue}, **kwargs)

    def cancel_consumer(self, queue: str, destination: Any = None, **kwargs: Any) -> Any:
        return self.broadcast(
            "cancel_consumer", destination=destination, arguments={"queue": queue}, **kwargs
        )

    def pool_grow(self, n: int = 1, destination: Any = None, **kwargs: Any) -> Any:
        return self.broadcast("pool_grow", arguments={"n": n}, destination=destination, **kwargs)

    def pool_shrink(self, n: int = 1, destination: Any = None, **kwargs: Any) -> Any:
        return self.broadcast("pool_shrink", arguments={"n": n}, destination=destination, **kwargs)

    def pool_restart(
        self,
        modules: Any = None,
        reload: bool = False,
        reloader: Any = None,
        destination: Any = None,
        **kwargs: Any,
    ) -> Any:
        return self.broadcast(
            "pool_restart",
            arguments={"modules": modules, "reload": reload},
            destination=destination,
            **kwargs,
        )

    def shutdown(self, destination: Any = None, **kwargs: Any) -> Any:
        return self.broadcast("shutdown", arguments={}, destination=destination, **kwargs)

    # -- not here ---------------------------------------------------------------------------------------
    def autoscale(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_here("autoscale", "use pool_grow()/pool_shrink(), or the worker's -t/--threads")

    def enable_events(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_here(
            "enable_events", "there is no event stream; workers record metrics (compat.monitoring)"
        )

    def disable_events(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_here("disable_events", "there is no event stream; set worker_metrics=False")

    def heartbeat(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_here("heartbeat", "workers heartbeat on their own; use ping()")

    def election(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_here("election", "the scheduler elects its leader with a Redis lease")

    def revoke_by_stamped_headers(self, *args: Any, **kwargs: Any) -> Any:
        raise _not_here("revoke_by_stamped_headers", "stamping is not supported; revoke by task id")
