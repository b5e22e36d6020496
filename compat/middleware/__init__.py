"""Facade behaviours as Dramatiq middleware, one job each."""

from .canvas import CanvasContinuation
from .dead_letters import DeadLetters
from .retries import CeleryRetries
from .revocation import Revocation
from .soft_time_limit import SoftTimeLimit
from .state import TaskState

__all__ = ["CanvasContinuation", "DeadLetters", "CeleryRetries", "Revocation", "SoftTimeLimit", "TaskState"]
