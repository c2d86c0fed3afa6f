"""``get_failed_queue()``: the RQ page's view of failed jobs across every queue."""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any

from . import keys, steps
from .connections import resolve_connection
from .exceptions import InvalidJobOperation, NoSuchJobError
from .job import Job
from .moves import requeue_jobs
from .registry import FailedJobRegistry
from .results import Result
from .utils import decode

if TYPE_CHECKING:
    from redis import Redis


class FailedQueue:
    """Failed jobs of all queues, read from each queue's FailedJobRegistry."""

    name = "failed"

    def __init__(self, connection: Redis | None = None, serializer: Any = None) -> None:
        self.connection = resolve_connection(connection)
        self.serializer = serializer

    def _registries(self) -> list[FailedJobRegistry]:
        names = sorted(decode(n) for n in self.connection.smembers(keys.queues()))
        return [FailedJobRegistry(name, connection=self.connection, serializer=self.serializer)
                for name in names]

    @property
    def count(self) -> int:
        registries = self._registries()
        pipe = self.connection.pipeline(transaction=False)
        now = f"({time.time()}"
        for registry in registries:
            pipe.zcount(registry.key, now, "+inf")  # expired entries are not counted
        return sum(pipe.execute())

    def __len__(self) -> int:
        return self.count

    @property
    def job_ids(self) -> list[str]:
        return [job_id for registry in self._registries() for job_id in registry.get_job_ids()]

    @property
    def jobs(self) -> list[Job]:
        found = Job.fetch_many(self.job_ids, connection=self.connection,
                               serializer=self.serializer)
        return [job for job in found if job is not None]

    def quarantine(self, job: Job, exc_info: Any) -> Job:
        """Move a job (wherever it is) to its origin queue's failed registry."""
        if isinstance(exc_info, BaseException):
            exc_info = "".join(traceback.format_exception(type(exc_info), exc_info,
                                                          exc_info.__traceback__))
        elif isinstance(exc_info, tuple):
            exc_info = "".join(traceback.format_exception(*exc_info))
        exc_text = str(exc_info)
        entry = Result.payload(job.serializer, Result.Type.FAILED, None, exc_text, "", None,
                               time.time())
        reply = steps.quarantine(self.connection, job.id, job.origin, exc_text, entry)
        if reply == "missing":
            raise NoSuchJobError(f"No such job: {job.id} (save() it before quarantine)")
        if reply == "status:started":
            raise InvalidJobOperation(
                f"Job {job.id} is running: its worker records its outcome (stop it first)"
            )
        job.set_status(reply)
        job.exc_info = exc_text
        return job

    def requeue(self, job_id: Job | str) -> Job:
        job_id = job_id.id if isinstance(job_id, Job) else job_id
        requeue_jobs(self.connection, [job_id])
        return Job.fetch(job_id, connection=self.connection, serializer=self.serializer)

    def requeue_all(self) -> int:
        return sum(registry.requeue_all() for registry in self._registries())

    def remove(self, job: Job | str) -> None:
        """Delete a failed job for good."""
        job_id = job.id if isinstance(job, Job) else job
        steps.delete(self.connection, [job_id])

    def empty(self) -> int:
        """Delete every failed job; returns how many."""
        removed = 0
        for registry in self._registries():
            while ids := registry.get_job_ids(0, 1000):
                removed += steps.delete(self.connection, ids)
                self.connection.zrem(registry.key, *ids)
        return removed


def get_failed_queue(connection: Redis | None = None, serializer: Any = None) -> FailedQueue:
    return FailedQueue(connection=connection, serializer=serializer)


