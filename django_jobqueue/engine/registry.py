"""Per-queue registries of jobs that are not queued: started, finished, failed, deferred,
scheduled, canceled. Reading a count never cleans up; ``cleanup()`` does, on purpose."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from . import keys, steps
from .connections import resolve_connection
from .job import Job
from .moves import requeue_jobs
from .states import DEFAULT_MAX_LOST_ATTEMPTS, EXPIRING, MOVES
from .utils import decode, refuse_unknown

if TYPE_CHECKING:
    from redis import Redis


class QueueLike(Protocol):
    """What a registry takes from its queue (a Queue; queue.py imports this module)."""

    name: str
    connection: Redis
    serializer: Any
    job_class: type[Job]

REQUEUE_BATCH = 1000
#: RQ's keyword arguments that have no meaning here (accepted, ignored)
RQ_IGNORED = frozenset({"death_penalty_class"})


class BaseRegistry:
    kind = ""
    job_class: type[Job] = Job

    def __init__(self, name: str = "default", connection: Redis | None = None,
                 queue: QueueLike | None = None, serializer: Any = None,
                 job_class: type[Job] | None = None, **rq_options: Any) -> None:
        refuse_unknown(type(self).__name__, rq_options, RQ_IGNORED)
        if queue is not None:
            self.name, self.connection = queue.name, queue.connection
            self.serializer = queue.serializer
            self.job_class = job_class or queue.job_class
        else:
            self.name, self.connection = name, resolve_connection(connection)
            self.serializer = serializer
            self.job_class = job_class or Job
        self.key = keys.registry(self.kind, self.name)

    @property
    def expiring(self) -> bool:
        """Scores are expiry times: entries past them are not counted; cleanup() drops them."""
        return self.kind in EXPIRING

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __contains__(self, item: Job | str) -> bool:
        job_id = item.id if isinstance(item, Job) else item
        return self.connection.zscore(self.key, job_id) is not None

    @property
    def count(self) -> int:
        if self.expiring:
            return self.connection.zcount(self.key, f"({time.time()}", "+inf")
        return self.connection.zcard(self.key)

    def __len__(self) -> int:
        return self.count

    def get_job_ids(self, offset: int = 0, length: int = -1, desc: bool = False) -> list[str]:
        """Ids in score order; in expiring registries, only entries not yet expired."""
        if self.expiring:
            low, high = f"({time.time()}", "+inf"
            if desc:
                ids = self.connection.zrevrangebyscore(self.key, high, low, start=offset,
                                                       num=length)
            else:
                ids = self.connection.zrangebyscore(self.key, low, high, start=offset,
                                                    num=length)
            return [decode(i) for i in ids]
        end = -1 if length < 0 else offset + length - 1
        return [decode(i) for i in self.connection.zrange(self.key, offset, end, desc=desc)]

    def get_jobs(self, offset: int = 0, length: int = -1) -> list[Job]:
        found = self.job_class.fetch_many(self.get_job_ids(offset, length),
                                          connection=self.connection,
                                          serializer=self.serializer)
        return [job for job in found if job is not None]

    def get_expiration_time(self, job: Job | str) -> float | None:
        job_id = job.id if isinstance(job, Job) else job
        return self.connection.zscore(self.key, job_id)

    def remove(self, job: Job | str, delete_job: bool = False) -> None:
        """Drop the entry; with ``delete_job`` the job itself goes too (nothing left behind)."""
        job_id = job.id if isinstance(job, Job) else job
        if delete_job:
            steps.delete(self.connection, [job_id])
        else:
            self.connection.zrem(self.key, job_id)

    def delete_all(self, batch_size: int = REQUEUE_BATCH) -> int:
        """Delete every job of this registry and the jobs themselves, a batch per round
        trip (never all in memory, never Redis held for long). Returns how many."""
        deleted = 0
        while True:
            batch = steps.empty(self.connection, self.name, batch_size, self.kind)
            deleted += batch
            if batch == 0:
                return deleted

    def cleanup(self, timestamp: float | None = None) -> int:
        """Drop entries that expired (their job's hash expired with them)."""
        if not self.expiring:
            return 0
        return self.connection.zremrangebyscore(self.key, "-inf", f"({timestamp or time.time()}")


class StartedJobRegistry(BaseRegistry):
    """Jobs a worker is running; the score is the lease deadline its heartbeat renews."""

    kind = "started"

    def cleanup(self, timestamp: float | None = None) -> int:
        """Take back jobs whose worker stopped heartbeating (see the worker's recovery)."""
        found = steps.recover_expired(self.connection, self.name, steps.RECOVER_BATCH,
                                      DEFAULT_MAX_LOST_ATTEMPTS)
        return found.requeued + found.failed


class FinishedJobRegistry(BaseRegistry):
    kind = "finished"


class FailedJobRegistry(BaseRegistry):
    kind = "failed"

    def requeue(self, job_or_id: Job | str, at_front: bool = False) -> Job:
        job_id = job_or_id.id if isinstance(job_or_id, Job) else job_or_id
        requeue_jobs(self.connection, [job_id], at_front=at_front)
        return self.job_class.fetch(job_id, connection=self.connection,
                                    serializer=self.serializer)

    def requeue_all(self, batch_size: int = REQUEUE_BATCH) -> int:
        """Requeue every failed job, a batch per round trip (never all in memory at once)."""
        total = skip = 0
        while True:
            requeued, dropped, refused = steps.requeue_batch(
                self.connection, self.name, MOVES["requeue"].sources, batch_size, skip)
            total += requeued
            skip += refused  # an entry whose job is not failed stays; look past it
            if requeued + dropped + refused == 0:
                return total


class DeferredJobRegistry(BaseRegistry):
    """Jobs waiting for their dependencies to finish."""

    kind = "deferred"


class ScheduledJobRegistry(BaseRegistry):
    """Jobs waiting for their time; the score is when they are due."""

    kind = "scheduled"

    def get_scheduled_time(self, job: Job | str) -> float | None:
        return self.get_expiration_time(job)


class CanceledJobRegistry(BaseRegistry):
    kind = "canceled"


REGISTRY_CLASSES: dict[str, type[BaseRegistry]] = {
    cls.kind: cls
    for cls in (StartedJobRegistry, FinishedJobRegistry, FailedJobRegistry,
                DeferredJobRegistry, ScheduledJobRegistry, CanceledJobRegistry)
}
