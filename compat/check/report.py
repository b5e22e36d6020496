"""The migration report: each usage with its status and docs row, a summary, and the exit status for CI."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .rules import Row, classify
from .scanner import Usage

ORDER = ("supported", "differs", "unsupported")


@dataclass(frozen=True)
class Finding:
    """A usage and the row of the table that classifies it."""

    usage: Usage
    row: Row

    @property
    def status(self) -> str:
        return self.row.status

    def as_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "path": u.path, "line": u.line, "kind": u.kind, "construct": u.construct, "status": self.status,
            "why": self.row.why, "docs": self.row.link, "row": self.row.label,
        }


def findings(usages: list[Usage]) -> list[Finding]:
    return [Finding(usage, classify(usage.kind)) for usage in usages]


def exit_status(found: list[Finding]) -> int:
    """0 when nothing is unsupported, else 1."""
    return 1 if any(f.status == "unsupported" for f in found) else 0


def summary(found: list[Finding]) -> dict[str, int]:
    counts = Counter(f.status for f in found)
    return {status: counts.get(status, 0) for status in ORDER}


def as_json(found: list[Finding], files: int, errors: list[str]) -> str:
    return json.dumps(
        {
            "files": files,
            "usages": [f.as_dict() for f in found],
            "summary": summary(found),
            "errors": errors,
            "exit_status": exit_status(found),
        },
        indent=2,
    )


def as_text(found: list[Finding], files: int, errors: list[str], hide_supported: bool = False) -> str:
    lines = []
    for finding in found:
        u, row = finding.usage, finding.row
        if hide_supported and finding.status == "supported":
            continue
        lines.append(f"{u.path}:{u.line}: {finding.status}: {u.construct}")
        if finding.status != "supported":
            why = f"{row.why} -- " if row.why else ""
            lines.append(f"    {why}{row.link} (row {_cut(row.label)})")
    counts = summary(found)
    lines.append("")
    lines.append(
        f"{_plural(len(found), 'Celery usage')} in {_plural(files, 'file')}: "
        + ", ".join(f"{counts[status]} {status}" for status in ORDER)
    )
    for status in ("unsupported", "differs"):
        kinds = Counter(f.usage.kind for f in found if f.status == status)
        if kinds:
            lines.append(f"{status}: " + ", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items())))
    for error in errors:
        lines.append(f"not read: {error}")
    status = exit_status(found)
    lines.append(
        "exit status 1: migrating needs changes where the report says unsupported"
        if status
        else "exit status 0: nothing unsupported"
    )
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _cut(label: str, limit: int = 60) -> str:
    return label if len(label) <= limit else label[: limit - 3] + "..."
