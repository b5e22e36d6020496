"""Heuristics for task arguments JSON cannot carry, read from the call site's source.

Only what the source says for sure is flagged, so that a hit is worth reading:

* a name bound in the same function (or module) to ``X.objects.get/create/first/last/latest(...)``,
  ``get_object_or_404(...)``, ``form.save()``/``serializer.save()``: a model instance;
* a name bound to ``X.objects.filter/exclude/all/order_by/values(...)`` or ``get_list_or_404(...)``: a
  queryset;
* a name bound to ``SomeClass(...)`` (a capitalised callable other than ``Decimal``/``UUID``): an object
  of a class (a dataclass, a model built in memory), which only pickle carried;
* those expressions passed directly;
* ``request`` (and ``request.user``, ``request.FILES``, ``request.session``), ``self`` (an object,
  typically a model calling a task on itself), ``instance`` in a ``@receiver`` function;
* a lambda, a set literal or comprehension, a generator expression, ``open(...)``.

``args=[...]``/``kwargs={...}`` of ``apply_async``/``send_task`` are looked into the same way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

_INSTANCE_METHODS = {
    "get", "create", "first", "last", "latest", "earliest", "get_or_create", "update_or_create",
}
_QUERYSET_METHODS = {
    "filter", "exclude", "all", "order_by", "values", "values_list", "select_related", "prefetch_related",
    "annotate", "distinct", "none",
}
#: Classes whose instances compat's JSON carries (see docs/compat.md, Calling).
_JSON_CONSTRUCTORS = {"Decimal", "UUID"}
_REQUEST_PARTS = {"user": "model-instance", "FILES": "request", "session": "request"}

#: The risks this module reports (``arg-risk:<name>``), for the rules' completeness test.
RISKS = ("model-instance", "queryset", "object", "request", "self", "set", "lambda", "generator", "file")


def expression_risk(node: ast.expr, bound: dict[str, str]) -> tuple[str, str] | None:
    """``(risk, why)`` for one argument expression, or None when nothing says it cannot be JSON."""
    if isinstance(node, ast.Lambda):
        return "lambda", "a lambda"
    if isinstance(node, (ast.Set, ast.SetComp)):
        return "set", "a set"
    if isinstance(node, ast.GeneratorExp):
        return "generator", "a generator"
    if isinstance(node, ast.Name):
        if node.id in bound:
            return bound[node.id], f"{node.id} is {_WHAT[bound[node.id]]}"
        if node.id == "request":
            return "request", "the HTTP request"
        if node.id == "self":
            return "self", "self (an object)"
        return None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "request":
        risk = _REQUEST_PARTS.get(node.attr)
        return (risk, f"request.{node.attr}") if risk else None
    if isinstance(node, ast.Call):
        risk = call_risk(node)
        if risk:
            return risk, f"{_short(node)} is {_WHAT[risk]}"
    return None


def call_risk(node: ast.Call) -> str | None:
    """``model-instance``/``queryset``/``file`` when a call's result is one, judged by its shape."""
    func = node.func
    if isinstance(func, ast.Name):
        if func.id == "get_object_or_404":
            return "model-instance"
        if func.id == "get_list_or_404":
            return "queryset"
        if func.id == "open":
            return "file"
        if func.id[:1].isupper() and func.id not in _JSON_CONSTRUCTORS:
            return "object"
        return None
    if not isinstance(func, ast.Attribute):
        return None
    if _through_manager(func.value):
        if func.attr in _INSTANCE_METHODS:
            return "model-instance"
        if func.attr in _QUERYSET_METHODS:
            return "queryset"
    if func.attr == "save" and isinstance(func.value, ast.Name) and func.value.id in ("form", "serializer"):
        return "model-instance"
    return None


def _through_manager(node: ast.expr) -> bool:
    """Whether ``node`` is ``X.objects`` or a queryset chain hanging off one."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return isinstance(node, ast.Attribute) and node.attr == "objects"


def bindings(scope: ast.AST) -> dict[str, str]:
    """Names assigned a model instance or queryset directly in ``scope`` (not in nested functions)."""
    bound: dict[str, str] = {}
    assignments = [node for node in _walk_scope(scope) if isinstance(node, ast.Assign)]
    for node in sorted(assignments, key=lambda n: (n.lineno, n.col_offset)):  # a later assignment wins
        risk = call_risk(node.value) if isinstance(node.value, ast.Call) else None
        for target in node.targets:
            if isinstance(target, ast.Tuple) and target.elts and isinstance(target.elts[0], ast.Name):
                target = target.elts[0]  # obj, created = X.objects.get_or_create(...)
            if not isinstance(target, ast.Name):
                continue
            if risk in ("model-instance", "queryset", "object"):
                bound[target.id] = risk
            else:
                bound.pop(target.id, None)
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_receiver(scope):
        names = [a.arg for a in scope.args.args + scope.args.kwonlyargs]
        if "instance" in names:
            bound["instance"] = "model-instance"
    return bound


def call_arguments(call: ast.Call, method: str) -> Iterator[ast.expr]:
    """The task arguments of a ``delay``/``s``/``si`` (positional and keyword) or ``apply_async``/
    ``send_task`` (the ``args=``/``kwargs=`` literals, also given positionally) call."""
    if method in ("delay", "s", "si"):
        yield from (a.value if isinstance(a, ast.Starred) else a for a in call.args)
        yield from (k.value for k in call.keywords if k.arg is not None)
        return
    positional = call.args[1:] if method == "send_task" else call.args
    containers = list(positional[:2]) + [k.value for k in call.keywords if k.arg in ("args", "kwargs")]
    for container in containers:
        if isinstance(container, (ast.List, ast.Tuple)):
            yield from container.elts
        elif isinstance(container, ast.Dict):
            yield from container.values
        else:
            yield container


def _walk_scope(scope: ast.AST) -> Iterator[ast.AST]:
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _is_receiver(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in func.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name) and target.id == "receiver":
            return True
    return False


def _short(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_WHAT = {
    "model-instance": "a model instance",
    "queryset": "a queryset",
    "file": "an open file",
    "object": "an instance of a class",
}
