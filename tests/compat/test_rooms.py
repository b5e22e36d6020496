"""compat is a library: it never imports the scheduler daemon, the dashboard or the Threads app; the
dashboard (``ops``) never imports the Threads app.

Checked two ways: every ``import``/``from ... import`` statement of every module under ``compat/`` (also
those inside functions, which an import at run time would miss), and a fresh interpreter that imports
every compat module that does not need Django configured and then finds none of them loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "compat"
FORBIDDEN = ("scheduler", "ops", "threads", "actors")


def imported_names(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for each absolute import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_no_compat_module_imports_scheduler_ops_or_the_app():
    modules = sorted(COMPAT.rglob("*.py"))
    assert len(modules) > 30  # the scan really saw the package
    offending = [
        f"{path.relative_to(ROOT)}:{line}: import {name}"
        for path in modules
        for line, name in imported_names(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offending == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from scheduler.cli import run\n    import ops.views\n")
    assert imported_names(sample) == [(2, "scheduler.cli"), (3, "ops.views")]


def test_importing_compat_loads_no_scheduler_and_no_dashboard():
    program = f"""
FORBIDDEN = {FORBIDDEN!r}
import importlib, pkgutil, sys
import compat
for info in pkgutil.walk_packages(compat.__path__, "compat."):
    if info.name.startswith("compat.contrib.django"):
        continue  # needs configured Django settings; covered by the scan above
    importlib.import_module(info.name)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)
print(len([n for n in sys.modules if n.startswith("compat.")]), loaded)
"""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    count, loaded = done.stdout.strip().split(" ", 1)
    assert int(count) > 20 and loaded == "[]", done.stdout


def test_the_dashboard_is_reusable_it_never_imports_the_threads_app():
    offending = [
        f"{path.relative_to(ROOT)}:{line}: import {name}"
        for path in sorted((ROOT / "ops").rglob("*.py"))
        for line, name in imported_names(path)
        if name.split(".")[0] in ("threads", "actors")
    ]
    assert offending == []
