"""The worker: the loop (loop.py), its background duties (lease.py), riding out lost
connections (outages.py), and what it publishes about itself (info.py, which read-only code
imports without the loop)."""

from .info import WorkerInfo
from .loop import DEFAULT_WORKER_TTL, WORKER_NAME_PATTERN, SimpleWorker, Worker, WorkerState

__all__ = ["DEFAULT_WORKER_TTL", "WORKER_NAME_PATTERN", "SimpleWorker", "Worker",
           "WorkerInfo", "WorkerState"]
