"""``django_jobqueue.registry``: RQ's import path (``rq.registry``) for the engine's names."""

from .engine import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from .engine.registry import BaseRegistry

__all__ = ["BaseRegistry", "CanceledJobRegistry", "DeferredJobRegistry", "FailedJobRegistry",
           "FinishedJobRegistry", "ScheduledJobRegistry", "StartedJobRegistry"]
