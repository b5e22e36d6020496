"""The files of a project and the two passes over them.

The first pass collects what the second needs across modules (names of task functions and of task
base classes); the second (``scanner.ModuleScan``) reports each usage. A line containing
``# compat-check: ignore`` is not reported.
"""

from __future__ import annotations

import ast
import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .scanner import ModuleScan, Project, Usage, tail, task_decorator

IGNORE_MARK = "# compat-check: ignore"
SKIPPED_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", ".tox", "site-packages"}


def python_files(root: Path, exclude: Iterable[str] = ()) -> list[Path]:
    """The ``.py`` files under ``root`` (or ``root`` itself), sorted, without venvs and VCS folders."""
    if root.is_file():
        return [root]
    found = []
    patterns = list(exclude)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            if name.endswith(".py") and not any(fnmatch.fnmatch(relative, p) for p in patterns):
                found.append(path)
    return found


@dataclass
class Scan:
    """The usages found under one root, how many files were read, and those that could not be."""

    usages: list[Usage]
    files: int
    errors: list[str]


def scan(root: Path, exclude: Iterable[str] = ()) -> Scan:
    """Every usage under ``root`` (a folder or one file), paths relative to it."""
    project = Project()
    trees: list[tuple[str, ast.Module, list[str]]] = []
    files = python_files(root, exclude)
    for path in files:
        label = path.name if root.is_file() else path.relative_to(root).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(path))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            project.errors.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        trees.append((label, tree, source.splitlines()))
    _learn(project, [tree for _, tree, _ in trees])
    usages: list[Usage] = []
    for label, tree, lines in trees:
        try:
            found = ModuleScan(label, tree, project).run()
        except RecursionError as exc:  # a pathologically nested module: reported, the others still scanned
            project.errors.append(f"{label}: RecursionError: {exc}")
            continue
        for usage in found:
            text = lines[usage.line - 1] if 0 < usage.line <= len(lines) else ""
            if IGNORE_MARK not in text:
                usages.append(usage)
    return Scan(usages, len(files), project.errors)


def _learn(project: Project, trees: list[ast.Module]) -> None:
    """Task function names and task base class names (to a fixed point: bases of bases)."""
    classes: list[ast.ClassDef] = []
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                task_decorator(d) for d in node.decorator_list
            ):
                project.task_functions.add(node.name)
            elif isinstance(node, ast.ClassDef):
                classes.append(node)
    grew = True
    while grew:
        grew = False
        for node in classes:
            if node.name not in project.task_bases and any(
                tail(base) in project.task_bases for base in node.bases
            ):
                project.task_bases.add(node.name)
                grew = True


