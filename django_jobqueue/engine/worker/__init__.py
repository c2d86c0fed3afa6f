"""The worker: the loop (loop.py), its background duties (lease.py), riding out lost
connections (outages.py), starting and leaving (leaving.py), signals (shutdown.py), and what
it publishes about itself (info.py: read-only code depends on it and never on the loop; an
architecture test checks the imports)."""

from .info import WorkerInfo
from .loop import DEFAULT_WORKER_TTL, WORKER_NAME_PATTERN, SimpleWorker, Worker, WorkerState

__all__ = ["DEFAULT_WORKER_TTL", "WORKER_NAME_PATTERN", "SimpleWorker", "Worker",
           "WorkerInfo", "WorkerState"]
