"""The dashboard's Django app: its label names the template and static folders (``compat_ops/``)."""

from pathlib import Path

from django.apps import AppConfig
from django.core import checks

#: The chart library the page loads, installed by ``make deps`` (ops/vendor/install.py), not in git.
VENDORED = Path(__file__).parent / "static" / "compat_ops" / "vendor" / "uplot" / "uPlot.iife.min.js"


def vendored_chart_library(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Warn when the charts' library was not installed: the page would draw no charts."""
    if VENDORED.is_file():
        return []
    return [
        checks.Warning(
            "the ops dashboard's chart library is not installed: its charts will not draw",
            hint="run `make deps` (or `python ops/vendor/install.py`): npm ci installs the pinned uPlot",
            id="compat_ops.W001",
        )
    ]


class OpsConfig(AppConfig):
    name = "ops"
    label = "compat_ops"
    verbose_name = "Task operations dashboard"

    def ready(self) -> None:
        checks.register(vendored_chart_library)
