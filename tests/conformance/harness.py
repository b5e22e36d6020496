"""The differential harness: one program, run on a stack (Celery or compat) in a mode (eager or worker),
reduced to a comparable outcome.

A *program* is a function of one argument, ``ns`` (a :class:`Stack`), written once against the names
both stacks share (``ns.add``, ``ns.chain``, ``ns.exceptions``, ``ns.AsyncResult``...). What it returns,
or the exception it raises, is the outcome; :func:`normalize` makes outcomes comparable across stacks
(task ids and the tasks module's name are masked, exceptions become ``('!exc', type name, message)``).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Any

MODES = ("eager", "worker")
STACKS = ("celery", "compat")
TIMEOUT = 10.0  # seconds a program waits for any one result

# Celery's private canvas class names that compat spells differently (same thing, other name).
TYPE_ALIASES = {"_chord": "chord"}

SCALARS = (bool, int, float, Decimal, datetime, date, dtime, uuid.UUID, bytes)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TASKS_MODULE = re.compile(r"tests\.conformance\.stacks\.(celery|compat)_tasks")


# -- programs ----------------------------------------------------------------------------------------
@dataclass
class Program:
    """One differential program and what the suite knows about it."""

    name: str
    fn: Callable[[Stack], Any]
    topic: str
    modes: tuple[str, ...] = MODES
    expect: Any = None  # Celery's known outcome (returned value), per mode or for all: a guard on the harness
    differs: str | None = None  # why compat deliberately differs (README lists these)
    compat_expect: Callable[[dict, str], dict] | None = None  # Celery outcome, mode -> compat's outcome

    def expected_for(self, mode: str) -> Any:
        if isinstance(self.expect, dict) and set(self.expect) <= set(MODES) and self.expect:
            return self.expect.get(mode, _NOTHING)
        return _NOTHING if self.expect is None else self.expect


_NOTHING = object()
PROGRAMS: dict[str, Program] = {}


def program(topic: str, *, modes: tuple[str, ...] = MODES, expect: Any = None) -> Callable:
    """Register a program under its function name."""

    def register(fn: Callable[[Stack], Any]) -> Callable[[Stack], Any]:
        if fn.__name__ in PROGRAMS:
            raise ValueError(f"duplicate program {fn.__name__}")
        PROGRAMS[fn.__name__] = Program(fn.__name__, fn, topic, modes, expect)
        return fn

    return register


def differs(reason: str, compat: Callable[[dict, str], dict]) -> Callable:
    """Mark a registered program as a deliberate difference: compat's outcome is ``compat(celery, mode)``.

    Put it above ``@program``.
    """

    def mark(fn: Callable[[Stack], Any]) -> Callable[[Stack], Any]:
        entry = PROGRAMS[fn.__name__]
        entry.differs = reason
        entry.compat_expect = compat
        return fn

    return mark


def exc(type_name: str, message: str) -> tuple:
    """The normalized form of an exception, for ``expect=``."""
    return ("!exc", type_name, message)


class Raised:
    """Marks an exception caught by :meth:`Stack.catch` (normalized like a raised one)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


# -- stacks ------------------------------------------------------------------------------------------
@dataclass
class Stack:
    """What a program sees: one stack's tasks, canvas, results and exceptions, plus helpers."""

    name: str
    module: Any
    mode: str = "eager"
    side: Any = None
    _extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, name: str, side: Any) -> Stack:
        current = _current_app_of(name)
        module = importlib.import_module(f"tests.conformance.stacks.{name}_tasks")
        # Importing made the conformance app current; give other suites in this session theirs back.
        _set_current_app(name, current)
        stack = cls(name, module, side=side)
        if name == "celery":
            import celery
            import celery.exceptions as exceptions
            import celery.result as results
        else:
            import compat as celery
            import compat.exceptions as exceptions
            import compat.result as results
        stack._extras.update(
            chain=celery.chain, group=celery.group, chord=celery.chord, signature=celery.signature,
            states=celery.states, exceptions=exceptions, AsyncResult=results.AsyncResult,
            GroupResult=results.GroupResult, EagerResult=results.EagerResult,
        )
        return stack

    def __getattr__(self, name: str) -> Any:
        extras = self.__dict__.get("_extras", {})
        if name in extras:
            return extras[name]
        module = self.__dict__.get("module")
        if module is not None and hasattr(module, name):
            return getattr(module, name)
        raise AttributeError(name)

    @property
    def app(self) -> Any:
        return self.module.app

    @property
    def eager(self) -> bool:
        return self.mode == "eager"

    @property
    def tasks_module(self) -> str:
        return self.module.__name__

    def key(self, label: str = "k") -> str:
        """A fresh side-channel key."""
        return f"conformance:{label}:{uuid.uuid4()}"

    @contextlib.contextmanager
    def conf(self, **settings: Any) -> Iterator[None]:
        """Change app settings for the block."""
        conf = self.app.conf
        saved = {key: conf.get(key) for key in settings}
        conf.update(settings)
        try:
            yield
        finally:
            conf.update(saved)

    def catch(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, or the exception it raised (as :class:`Raised`)."""
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # the program observes it
            return Raised(error)

    def get(self, result: Any, **kwargs: Any) -> Any:
        """``result.get(timeout=TIMEOUT, **kwargs)`` or the exception it raised."""
        kwargs.setdefault("timeout", TIMEOUT)
        return self.catch(result.get, **kwargs)

    def records(self, key: str, count: int = 1, wait: float = TIMEOUT, settle: float = 0.0) -> list:
        """The side-channel list under ``key`` once it has ``count`` items (or ``wait`` passed)."""
        deadline = time.monotonic() + wait
        while True:
            items = self.side.lrange(key, 0, -1)
            if len(items) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if settle:
            time.sleep(settle)
            items = self.side.lrange(key, 0, -1)
        return [json.loads(item) for item in items]

    def counter(self, key: str) -> int:
        return int(self.side.get(key) or 0)

    def wait_state(self, result: Any, states: tuple[str, ...], wait: float = TIMEOUT) -> str:
        """Poll ``result.state`` until it is one of ``states`` (or ``wait`` passed); return the last state."""
        deadline = time.monotonic() + wait
        while True:
            state = result.state
            if state in states or time.monotonic() > deadline:
                return state
            time.sleep(0.02)

    def type_name(self, obj: Any) -> str:
        name = type(obj).__name__
        return TYPE_ALIASES.get(name, name)


def _current_app_of(stack: str) -> Any:
    if stack == "compat":
        import compat.app

        return compat.app._current_app
    from celery._state import _tls, default_app

    return getattr(_tls, "current_app", None) or default_app


def _set_current_app(stack: str, app: Any) -> None:
    if stack == "compat":
        import compat.app

        compat.app._current_app = app
    elif app is not None:
        app.set_current()


# -- running and comparing ---------------------------------------------------------------------------
def run_program(stack: Stack, prog: Program, mode: str) -> dict:
    """Run ``prog`` on ``stack`` in ``mode``; the normalized outcome."""
    stack.mode = mode
    previous = _current_app_of(stack.name)
    _set_current_app(stack.name, stack.app)  # AsyncResult(id) and shared_task use the current app
    conf = stack.app.conf
    saved = {key: conf.get(key) for key in ("task_always_eager", "task_eager_propagates")}
    conf.update(task_always_eager=(mode == "eager"), task_eager_propagates=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = {"returned": normalize(prog.fn(stack))}
    except Exception as error:
        outcome = {"raised": normalize(error)}
    finally:
        conf.update(saved)
        _set_current_app(stack.name, previous)
    return outcome


def normalize(value: Any) -> Any:
    """A comparable, stack-independent form of what a program observed."""
    if isinstance(value, Raised):
        value = value.error
    if isinstance(value, BaseException):
        name = type(value).__name__
        return ("!exc", TYPE_ALIASES.get(name, name), _mask(str(value)))
    if isinstance(value, str):
        return _mask(value)
    if value is None or isinstance(value, SCALARS):
        return value
    if isinstance(value, dict):
        return {normalize(key): normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize(item) for item in value]
    if isinstance(value, tuple):
        return tuple(normalize(item) for item in value)
    name = type(value).__name__
    return ("!obj", TYPE_ALIASES.get(name, name))


def _mask(text: str) -> str:
    return _UUID.sub("<id>", _TASKS_MODULE.sub("<tasks>", text))
