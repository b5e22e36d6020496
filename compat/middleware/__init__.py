"""Facade behaviours as Dramatiq middleware, one job each."""

from .canvas import CanvasContinuation
from .dead_letters import DeadLetters
from .rate_limit import RateLimit
from .retries import CeleryRetries
from .revocation import Revocation
from .soft_time_limit import SoftTimeLimit
from .state import TaskState

__all__ = [
    "CanvasContinuation",
    "DeadLetters",
    "RateLimit",
    "CeleryRetries",
    "Revocation",
    "SoftTimeLimit",
    "TaskState",
]
