"""``django_jobqueue.queue``: RQ's import path (``rq.queue``) for the engine's names."""

from .engine import Queue
from .engine.queue import EnqueueData

__all__ = ["EnqueueData", "Queue"]
