"""``python -m compat check PATH``: what of a Celery project's source runs on compat, before migrating it.

``scanner`` finds the usages (with ``ast``), ``rules`` is the one table that classifies them (checked
against docs/compat.md), ``report`` prints them; ``main`` is the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser, paths: str = "+") -> None:
    """The command's arguments; ``paths="*"`` makes PATH optional (the Django command's default)."""
    parser.add_argument("paths", nargs=paths, metavar="PATH", help="project folder(s) or Python file(s)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip files whose path (relative to PATH) matches; repeatable")
    parser.add_argument("--hide-supported", action="store_true", help="list only differs/unsupported usages")


def run(options: argparse.Namespace, out=None) -> int:
    """Scan, print the report, and return the exit status (0 nothing unsupported, 1 otherwise, 2 bad PATH)."""
    from . import report  # here, not at import: every process loads compat.check for its runtime rules
    from .project import scan

    out = out or sys.stdout
    found, files, errors = [], 0, []
    for given in options.paths:
        root = Path(given)
        if not root.exists():
            print(f"compat check: error: {given} does not exist", file=sys.stderr)
            return 2
        result = scan(root, options.exclude)
        prefix = f"{given.rstrip('/')}/" if len(options.paths) > 1 and root.is_dir() else ""
        for finding in report.findings(result.usages):
            if prefix:
                usage = finding.usage
                finding = report.Finding(type(usage)(prefix + usage.path, usage.line, usage.kind,
                                                     usage.construct), finding.row)
            found.append(finding)
        files += result.files
        errors += result.errors
    text = report.as_json(found, files, errors) if options.json else report.as_text(
        found, files, errors, options.hide_supported
    )
    out.write(text + "\n")
    return report.exit_status(found)


def main(argv: list[str] | None = None) -> int:
    import argparse  # here: every process loads compat.check for its runtime rules

    parser = argparse.ArgumentParser(prog="python -m compat check", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
