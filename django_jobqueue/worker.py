"""``django_jobqueue.worker``: RQ's import path (``rq.worker``) for the engine's names."""

from .engine import SimpleWorker, Worker, WorkerInfo, WorkerState

__all__ = ["SimpleWorker", "Worker", "WorkerInfo", "WorkerState"]
