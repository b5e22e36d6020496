"""Find the Celery usages in one module with the ``ast`` module: ``ModuleScan(...).run()``.

Each usage has a kind (``rules.classify`` gives its status); ``project.scan`` runs this over a project.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import arguments
from .settings import known, normalize, serializer_kind, setting_kind

#: Packages whose import is a Celery usage; a ``celery.*`` module keeps its name, the others their root.
PACKAGES = ("celery", "kombu", "django_celery_beat", "django_celery_results")
#: Names ``from celery import ...`` that compat's top-level package provides.
COMPAT_TOP_LEVEL = {"Celery", "Signature", "Task", "chain", "chord", "current_app", "current_task", "group",
                    "shared_task", "signature", "subtask", "states", "result", "exceptions", "schedules"}
CELERY_APP_ARGS = {"main", "broker", "backend", "include", "set_as_current", "namespace", "strict_typing",
                   "config_source_silent"}
CELERY_APP_OPTIONS = {"loader", "amqp", "events", "log", "control", "tasks", "changes", "config_source",
                      "fixups", "task_cls", "autofinalize"}
#: Celery Task attributes that are options when set on a base class.
TASK_OPTIONS = {
    "name", "typing", "max_retries", "default_retry_delay", "rate_limit", "ignore_result", "trail",
    "send_events", "store_errors_even_if_ignored", "serializer", "time_limit", "soft_time_limit",
    "autoregister", "track_started", "acks_late", "acks_on_failure_or_timeout", "reject_on_worker_lost",
    "throws", "expires", "priority", "resultrepr_maxsize", "queue", "autoretry_for", "dont_autoretry_for",
    "retry_kwargs", "retry_backoff", "retry_backoff_max", "retry_jitter", "abstract", "Request", "Strategy",
    "bind", "acks_on_failure", "acks_on_timeout", "retry_on_worker_lost",
}
#: Task methods worth reporting when a base class overrides them.
TASK_METHODS = {"on_success", "on_failure", "on_retry", "after_return", "apply_async", "delay", "__call__",
                "before_start", "shadow_name", "on_replace"}
CALL_METHODS = {"delay", "apply_async", "send_task"}
CANVAS_METHODS = {"s", "si"}
TASK_ONLY_METHODS = {"map", "starmap", "chunks"}
CANVAS_FUNCTIONS = {"chain", "group", "chord", "signature", "subtask"}


@dataclass(frozen=True)
class Usage:
    """One Celery usage at ``path:line``."""

    path: str
    line: int
    kind: str
    construct: str


@dataclass
class Project:
    """What the first pass learned about the whole project."""

    task_functions: set[str] = field(default_factory=set)
    task_bases: set[str] = field(default_factory=lambda: {"Task"})
    errors: list[str] = field(default_factory=list)


def task_decorator(node: ast.expr) -> str | None:
    """``app.task`` or ``shared_task`` when ``node`` is a task decorator (bare or called)."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name) and target.id == "shared_task":
        return "shared_task"
    if isinstance(target, ast.Attribute) and target.attr in ("task", "shared_task"):
        return "app.task" if target.attr == "task" else "shared_task"
    return None


def tail(node: ast.expr) -> str:
    """The last name of ``a.b.C`` (or of ``C``)."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _dotted(node: ast.expr) -> str:
    """``a.b.c`` for a chain of attributes on a name, else ``""``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _short(node: ast.AST, limit: int = 70) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ModuleScan:
    """The second pass over one module."""

    def __init__(self, path: str, tree: ast.Module, project: Project) -> None:
        self.path = path
        self.tree = tree
        self.project = project
        self.found: list[Usage] = []
        self.names: dict[str, str] = {}  # local name -> the celery object it is (celery.signals.task_prerun)
        self.inspectors: set[str] = set()  # names bound to app.control.inspect(...)
        self.module_bound: dict[str, str] = {}

    def add(self, node: ast.AST, kind: str, construct: str) -> None:
        self.found.append(Usage(self.path, getattr(node, "lineno", 0), kind, construct))

    def run(self) -> list[Usage]:
        self.imports()
        self.module_settings()
        self.module_bound = arguments.bindings(self.tree)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and self.inspect_owner(node.value):
                self.inspectors.update(t.id for t in node.targets if isinstance(t, ast.Name))
        self.scopes(self.tree, self.module_bound)
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.function(node)
            elif isinstance(node, ast.ClassDef):
                self.task_class(node)
            elif isinstance(node, ast.Call):
                self.call(node)
            elif isinstance(node, (ast.Assign, ast.AugAssign)):
                self.conf_assignment(node)
        self.found.sort(key=lambda u: u.line)  # stable: a line's usages stay in the order they were met
        return self.found

    # -- imports -----------------------------------------------------------------------------------
    def imports(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PACKAGES:
                        self.add(node, _import_kind(alias.name), f"import {alias.name}")
                        local = alias.asname or alias.name.split(".")[0]
                        self.names[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module.split(".")[0] not in PACKAGES:
                    continue
                by_kind: dict[str, list[str]] = {}  # one usage per module a statement imports from
                for alias in node.names:
                    module = node.module
                    if module == "celery" and (
                        alias.name not in COMPAT_TOP_LEVEL
                        or alias.name in ("states", "result", "exceptions", "schedules")
                    ):
                        module = f"celery.{alias.name}"
                    by_kind.setdefault(_import_kind(module), []).append(alias.name)
                    self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                for kind, names in by_kind.items():
                    self.add(node, kind, f"from {node.module} import {', '.join(names)}")

    def resolve(self, node: ast.expr) -> str:
        """The celery name ``node`` refers to (through this module's imports), or ``""``."""
        dotted = _dotted(node)
        if not dotted:
            return ""
        head, _, rest = dotted.partition(".")
        if head in self.names:
            return self.names[head] + ("." + rest if rest else "")
        return ""

    # -- settings ----------------------------------------------------------------------------------
    def module_settings(self) -> None:
        for node in _module_statements(self.tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    name = normalize(target.id) if isinstance(target, ast.Name) else None
                    if name:
                        self.add(node, setting_kind(name, node.value), f"{target.id} = {_short(node.value)}")
                    elif isinstance(target, ast.Name) and target.id == "INSTALLED_APPS":
                        self.installed_apps(node.value)

    def installed_apps(self, value: ast.expr | None) -> None:
        for node in ast.walk(value) if value is not None else ():
            if isinstance(node, ast.Constant) and node.value in PACKAGES[2:]:
                self.add(node, f"django-app:{node.value}", f"INSTALLED_APPS: {node.value!r}")

    def conf_assignment(self, node: ast.Assign | ast.AugAssign) -> None:
        """``app.conf.x = v`` and ``app.conf["x"] = v``."""
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = None
            if isinstance(target, ast.Attribute) and tail(target.value) == "conf":
                name = target.attr
            elif isinstance(target, ast.Subscript) and tail(target.value) == "conf":
                key = target.slice
                name = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
            if name and known(name):
                self.add(node, setting_kind(name, node.value), f"{_short(target)} = {_short(node.value)}")

    def settings_call(self, node: ast.Call, construct: str) -> None:
        """``conf.update(k=v, ...)`` / ``conf.update({...})`` / ``Celery(..., k=v)``: one usage per key."""
        for keyword in node.keywords:
            if keyword.arg is not None and known(keyword.arg):
                self.add(node, setting_kind(keyword.arg, keyword.value), f"{construct}({keyword.arg}=...)")
        for arg in node.args:
            if isinstance(arg, ast.Dict):
                for key, value in zip(arg.keys, arg.values, strict=True):
                    if isinstance(key, ast.Constant) and isinstance(key.value, str) and known(key.value):
                        self.add(key, setting_kind(key.value, value), f"{construct}({key.value!r}: ...)")

    # -- functions and classes -------------------------------------------------------------------
    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scopes(node, {**self.module_bound, **arguments.bindings(node)})
        for decorator in node.decorator_list:
            which = task_decorator(decorator)
            if which:
                self.add(decorator, f"task:{which}", f"@{_short(decorator)} def {node.name}")
                if isinstance(decorator, ast.Call):
                    self.task_options(decorator.keywords, which)
                self.self_calls(node)
            elif isinstance(decorator, ast.Attribute) and decorator.attr == "connect":
                self.signal(decorator)

    def task_options(self, keywords: list[ast.keyword], where: str) -> None:
        for keyword in keywords:
            if keyword.arg is None:
                continue
            kind = (
                serializer_kind("task-option", keyword.value)
                if keyword.arg == "serializer"
                else f"task-option:{keyword.arg}"
            )
            self.add(keyword.value, kind, f"{where} option {keyword.arg}={_short(keyword.value, 40)}")

    def task_class(self, node: ast.ClassDef) -> None:
        if any(self.resolve(base) == "celery.Celery" for base in node.bases):
            self.names[node.name] = "celery.Celery"  # a project's own app class: its calls are Celery(...)
            self.add(node, "app:Celery", f"class {node.name}({', '.join(_short(b) for b in node.bases)})")
            return
        if not any(tail(base) in self.project.task_bases for base in node.bases):
            return
        self.add(node, "task:base-class", f"class {node.name}({', '.join(_short(b) for b in node.bases)})")
        for item in node.body:
            if isinstance(item, (ast.Assign, ast.AnnAssign)):
                targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in TASK_OPTIONS and item.value is not None:
                        self.task_options([ast.keyword(arg=target.id, value=item.value)], node.name)
            elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if item.name in TASK_METHODS:
                    self.add(item, f"task-method:{item.name}", f"{node.name}.{item.name}() overridden")
                self.self_calls(item)

    def self_calls(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """``self.retry(...)``/``self.replace(...)`` in a task's body or a task class's method."""
        for node in _scope_calls(func):
            target = node.func
            if (
                isinstance(target, ast.Attribute)
                and target.attr in ("retry", "replace")
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                self.add(node, f"call:{target.attr}", f"self.{target.attr}(...)")

    # -- calls -------------------------------------------------------------------------------------
    def call(self, node: ast.Call) -> None:
        func = node.func
        resolved = self.resolve(func)
        if resolved == "celery.Celery":
            self.celery_app(node)
            return
        if resolved in ("celery.result.AsyncResult", "celery.result.GroupResult"):
            self.add(node, f"result:{resolved.rsplit('.', 1)[1]}", f"{_short(func)}(...)")
            return
        if resolved.startswith("celery.") and resolved.rsplit(".", 1)[1] in CANVAS_FUNCTIONS:
            self.add(node, f"canvas:{resolved.rsplit('.', 1)[1]}", f"{_short(func)}(...)")
            return
        if not isinstance(func, ast.Attribute):
            return
        method, owner = func.attr, func.value
        if method == "connect":
            self.signal(func)
        elif tail(owner) == "control" or self.inspect_owner(owner):
            self.control(node, method, owner)
        elif method in ("update", "setdefault") and tail(owner) == "conf":
            self.settings_call(node, _short(func))
        elif method in ("config_from_object", "autodiscover_tasks"):
            self.add(node, f"app:{method}", _short(node))
        elif method in ("AsyncResult", "GroupResult"):
            self.add(node, f"result:{method}", f"{_short(func)}(...)")

    def celery_app(self, node: ast.Call) -> None:
        self.add(node, "app:Celery", f"{_short(node.func)}(...)")
        settings = []
        for keyword in node.keywords:
            if keyword.arg in CELERY_APP_OPTIONS:
                self.add(keyword.value, f"app-option:{keyword.arg}", f"Celery({keyword.arg}=...)")
            elif keyword.arg == "broker":
                self.add(keyword.value, setting_kind("broker_url", keyword.value), "Celery(broker=...)")
            elif keyword.arg == "backend":
                self.add(keyword.value, setting_kind("result_backend", keyword.value), "Celery(backend=...)")
            elif keyword.arg not in CELERY_APP_ARGS:
                settings.append(keyword)
        self.settings_call(ast.Call(func=node.func, args=[], keywords=settings, lineno=node.lineno), "Celery")

    def signal(self, connect: ast.Attribute) -> None:
        resolved = self.resolve(connect.value)
        if resolved.startswith("celery.signals."):
            name = resolved.rsplit(".", 1)[1]
            self.add(connect, f"signal:{name}", f"{_short(connect)}")

    def inspect_owner(self, owner: ast.expr) -> bool:
        """Whether ``owner`` is an inspector: ``x.control.inspect(...)`` or a name bound to one."""
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Attribute):
            return owner.func.attr == "inspect" and tail(owner.func.value) == "control"
        return isinstance(owner, ast.Name) and owner.id in self.inspectors

    def control(self, node: ast.Call, method: str, owner: ast.expr) -> None:
        category = "inspect" if self.inspect_owner(owner) else "control"
        self.add(node, f"{category}:{method}", f"{_short(node.func)}(...)")

    # -- call sites of tasks -------------------------------------------------------------------------
    def scopes(self, scope: ast.AST, bound: dict[str, str]) -> None:
        """Task calls directly in ``scope`` (a module or function): their options and argument risks."""
        for node in _scope_calls(scope):
            func = node.func
            if not isinstance(func, ast.Attribute):
                continue
            method = func.attr
            if method in CALL_METHODS:
                self.add(node, f"call:{method}", f"{_short(func)}(...)")
                if method != "delay":
                    self.call_options(node, method)
            elif method in CANVAS_METHODS or (
                method in TASK_ONLY_METHODS and tail(func.value) in self.project.task_functions
            ):
                self.add(node, f"canvas:{method}", f"{_short(func)}(...)")
            elif method == "signature" and tail(func.value) in self.project.task_functions:
                self.add(node, "canvas:signature", f"{_short(func)}(...)")
            else:
                continue
            if method in ("delay", "s", "si", "apply_async", "send_task"):
                for argument in arguments.call_arguments(node, method):
                    risk = arguments.expression_risk(argument, bound)
                    if risk:
                        self.add(argument, f"arg-risk:{risk[0]}", f"argument of {_short(func)}: {risk[1]}")

    def call_options(self, node: ast.Call, method: str) -> None:
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg in ("args", "kwargs") or (
                method == "send_task" and keyword.arg == "name"
            ):
                continue
            kind = (
                serializer_kind("call-option", keyword.value)
                if keyword.arg == "serializer"
                else f"call-option:{keyword.arg}"
            )
            self.add(keyword.value, kind, f"{method} option {keyword.arg}={_short(keyword.value, 40)}")


def _scope_calls(scope: ast.AST) -> Iterator[ast.Call]:
    """Calls in ``scope``'s own body, not in nested functions or classes (those are their own scopes)."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _module_statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Module-level statements, also inside ``if``/``try``/``with`` blocks (settings often are)."""
    stack = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            children = [*node.body, *getattr(node, "orelse", ()), *getattr(node, "finalbody", ())]
            for handler in getattr(node, "handlers", ()):
                children.extend(handler.body)
            stack.extend(reversed(children))


def _import_kind(module: str) -> str:
    root = module.split(".")[0]
    return f"import:{module}" if root == "celery" else f"import:{root}"
