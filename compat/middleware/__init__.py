"""Facade behaviours as Dramatiq middleware, one job each."""

from .canvas import CanvasContinuation
from .retries import CeleryRetries
from .revocation import Revocation
from .state import TaskState

__all__ = ["CanvasContinuation", "CeleryRetries", "Revocation", "TaskState"]
