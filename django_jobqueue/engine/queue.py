"""Queue: the enqueue paths (one round trip each, one per batch), counts and listings."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from . import enqueueing, keys, limits, middleware, pausing, registry, scripts, steps
from .connections import check_client, resolve_connection
from .exceptions import InvalidQueueName, NoSuchJobError
from .inline import run_inline
from .job import Job, Retry
from .limits import RateLimit
from .registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from .serializers import resolve_serializer
from .states import DEFAULT_TIMEOUT, JobStatus
from .utils import decode, from_timestamp, parse_duration, refuse_unknown, to_timestamp, utcnow

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["EnqueueData", "Queue"]

QUEUE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
#: keyword arguments of enqueue() that configure the job instead of reaching the function
RESERVED_KWARGS = (
    "job_timeout", "timeout", "result_ttl", "ttl", "failure_ttl", "job_id", "description",
    "at_front", "priority", "meta", "retry", "depends_on", "on_success", "on_failure",
    "on_stopped", "on_worker_lost", "pipeline", "unique", "unique_for", "unique_key",
    "rate_limit", "concurrency_limit", "limit_key",
)
#: RQ's keyword arguments that have no meaning here (accepted, ignored)
RQ_IGNORED = frozenset({"death_penalty_class"})


class EnqueueData(NamedTuple):
    """One job for :meth:`Queue.enqueue_many`, made by :meth:`Queue.prepare_data`."""

    func: Any
    args: tuple | list | None
    kwargs: dict | None
    timeout: Any
    result_ttl: Any
    ttl: Any
    failure_ttl: Any
    description: str | None
    job_id: str | None
    at_front: bool
    meta: dict | None
    retry: Retry | None
    on_success: Any
    on_failure: Any
    priority: int
    depends_on: Any
    unique: bool = False
    unique_for: Any = None
    unique_key: str | None = None
    on_stopped: Any = None
    rate_limit: Any = None
    concurrency_limit: Any = None
    limit_key: str | None = None


class Queue:
    """A named queue of jobs, ordered by priority (-100..100, higher first) then FIFO."""

    DEFAULT_TIMEOUT = DEFAULT_TIMEOUT
    job_class = Job

    def __init__(
        self,
        name: str = "default",
        connection: Redis | None = None,
        default_timeout: Any = None,
        is_async: bool = True,
        serializer: Any = None,
        job_class: type[Job] | None = None,
        default_retry: Retry | None = None,
        default_limit: RateLimit | None = None,
        **rq_options: Any,
    ) -> None:
        refuse_unknown("Queue", rq_options, RQ_IGNORED)
        if not isinstance(name, str) or not QUEUE_NAME_PATTERN.fullmatch(name):
            raise InvalidQueueName(f"Invalid queue name {name!r}: use 1 to 128 of [A-Za-z0-9_.:-]")
        self.name = name
        self.connection = resolve_connection(connection)
        check_client(self.connection)
        self._default_timeout = parse_duration(default_timeout, "default_timeout")
        if default_retry is not None and not isinstance(default_retry, Retry):
            raise TypeError(f"default_retry must be a Retry(...), not {default_retry!r}")
        #: the Retry of jobs enqueued here without retry=
        self.default_retry = default_retry
        if default_limit is not None and not isinstance(default_limit, RateLimit):
            raise TypeError(f"default_limit must be a RateLimit(...), not {default_limit!r}")
        #: the limit of jobs enqueued here without one of their own (limits.py)
        self.default_limit = default_limit
        self._is_async = is_async
        self.serializer = resolve_serializer(serializer)
        if job_class is not None:
            self.job_class = job_class

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Queue) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def key(self) -> str:
        return keys.queue(self.name)

    @property
    def is_async(self) -> bool:
        return self._is_async

    @property
    def default_timeout(self) -> int:
        return self._default_timeout if self._default_timeout is not None else DEFAULT_TIMEOUT

    @classmethod
    def all(cls, connection: Redis | None = None, **kwargs: Any) -> list[Queue]:
        connection = resolve_connection(connection)
        names = sorted(decode(n) for n in connection.smembers(keys.queues()))
        return [cls(name, connection=connection, **kwargs) for name in names]

    # --- enqueue ---------------------------------------------------------------------

    def enqueue(self, f: Any, *args: Any, **kwargs: Any) -> Job:
        """``enqueue(func, *args, **kwargs)``; reserved keywords configure the job.

        A function's own arguments named like a reserved keyword go through ``args=`` and
        ``kwargs=``.
        """
        return self._enqueue_parsed(f, args, kwargs)

    def _enqueue_parsed(self, f: Any, args: tuple, kwargs: dict, due: float | None = None) -> Job:
        options = {name: kwargs.pop(name) for name in RESERVED_KWARGS if name in kwargs}
        if "args" in kwargs or "kwargs" in kwargs:
            if args:
                raise TypeError("Pass either positional arguments or args=/kwargs=, not both")
            explicit_args = kwargs.pop("args", None)
            explicit_kwargs = kwargs.pop("kwargs", None)  # None becomes {}; wrong types refused
            if kwargs:
                raise TypeError(
                    f"With args=/kwargs=, pass the function's keyword arguments inside kwargs=, "
                    f"not as {', '.join(sorted(kwargs))}"
                )
            args, kwargs = explicit_args, explicit_kwargs
        if "timeout" in options:
            options.setdefault("job_timeout", options.pop("timeout"))
        return self.enqueue_call(f, args=args, kwargs=kwargs, _due=due, **options)

    def enqueue_call(
        self,
        func: Any,
        args: Any = None,
        kwargs: dict | None = None,
        timeout: Any = None,
        result_ttl: Any = None,
        ttl: Any = None,
        failure_ttl: Any = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict | None = None,
        retry: Retry | None = None,
        on_success: Any = None,
        on_failure: Any = None,
        priority: int = 0,
        on_worker_lost: str = "requeue",
        job_timeout: Any = None,
        on_stopped: Any = None,
        pipeline: Any = None,
        unique: bool = False,
        unique_for: Any = None,
        unique_key: str | None = None,
        rate_limit: Any = None,
        concurrency_limit: Any = None,
        limit_key: str | None = None,
        _due: float | None = None,
    ) -> Job:
        job = self.create_job(
            func, args=args, kwargs=kwargs, timeout=job_timeout if job_timeout is not None
            else timeout, result_ttl=result_ttl, ttl=ttl, failure_ttl=failure_ttl,
            description=description, depends_on=depends_on, job_id=job_id, meta=meta,
            retry=retry, on_success=on_success, on_failure=on_failure, on_stopped=on_stopped,
            priority=priority, on_worker_lost=on_worker_lost, unique=unique, unique_for=unique_for,
            unique_key=unique_key, rate_limit=rate_limit, concurrency_limit=concurrency_limit,
            limit_key=limit_key,
        )
        return self._enqueue_jobs([(job, at_front)], due=_due, pipeline=pipeline)[0]

    def create_job(self, func: Any, args: Any = None, kwargs: dict | None = None,
                   timeout: Any = None, job_id: str | None = None, **options: Any) -> Job:
        if self._is_async and getattr(func, "__module__", None) == "__main__":
            raise ValueError(
                f"{func.__qualname__} is defined in __main__, which a worker cannot import: "
                "move it to a module"
            )
        job = self.job_class.create(
            func, args=args, kwargs=kwargs, connection=self.connection, timeout=timeout,
            id=job_id, origin=self.name, serializer=self.serializer, **options,
        )
        return self.apply_defaults(job)

    def apply_defaults(self, job: Job) -> Job:
        """Give the job this queue's defaults for what it does not set (every enqueue path
        goes through here: a job made with ``Job.create`` too)."""
        if job.timeout is None:
            job.timeout = self.default_timeout
        if self.default_retry is not None and not job.retry_max:
            job.set_retry(self.default_retry)
        if self.default_limit is not None and not job.limit_key:
            limits.configure(job, self.default_limit)
        return job

    def enqueue_job(self, job: Job, at_front: bool = False, pipeline: Any = None) -> Job:
        """Enqueue a job made with ``Job.create`` onto this queue (with the queue's
        defaults for what the job does not set)."""
        job.origin = self.name
        self.apply_defaults(job)
        return self._enqueue_jobs([(job, at_front)], pipeline=pipeline)[0]

    def enqueue_at(self, scheduled_time: datetime, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Run ``f`` once ``scheduled_time`` has come (naive datetimes are UTC)."""
        return self._enqueue_parsed(f, args, kwargs, due=to_timestamp(scheduled_time))

    def enqueue_in(self, time_delta: timedelta, f: Any, *args: Any, **kwargs: Any) -> Job:
        return self.enqueue_at(utcnow() + time_delta, f, *args, **kwargs)

    @staticmethod
    def prepare_data(
        func: Any,
        args: Any = None,
        kwargs: dict | None = None,
        timeout: Any = None,
        result_ttl: Any = None,
        ttl: Any = None,
        failure_ttl: Any = None,
        description: str | None = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict | None = None,
        retry: Retry | None = None,
        on_success: Any = None,
        on_failure: Any = None,
        priority: int = 0,
        depends_on: Any = None,
        unique: bool = False,
        unique_for: Any = None,
        unique_key: str | None = None,
        on_stopped: Any = None,
        rate_limit: Any = None,
        concurrency_limit: Any = None,
        limit_key: str | None = None,
    ) -> EnqueueData:
        return EnqueueData(func, args, kwargs, timeout, result_ttl, ttl, failure_ttl,
                           description, job_id, at_front, meta, retry, on_success, on_failure,
                           priority, depends_on, unique, unique_for, unique_key, on_stopped,
                           rate_limit, concurrency_limit, limit_key)

    def enqueue_many(self, job_datas: list[EnqueueData], pipeline: Any = None) -> list[Job]:
        """Enqueue a batch in one round trip; every job is built (and checked) first."""
        return self._enqueue_jobs(self.build_jobs(job_datas), pipeline=pipeline)

    def build_jobs(self, job_datas: Sequence[EnqueueData]) -> list[tuple[Job, bool]]:
        """(job, at_front) for each prepared job (Queue.prepare_data), checked, unsent."""
        return [
            (self.create_job(
                d.func, args=d.args, kwargs=d.kwargs, timeout=d.timeout, job_id=d.job_id,
                result_ttl=d.result_ttl, ttl=d.ttl, failure_ttl=d.failure_ttl,
                description=d.description, meta=d.meta, retry=d.retry,
                on_success=d.on_success, on_failure=d.on_failure, on_stopped=d.on_stopped,
                priority=d.priority,
                depends_on=d.depends_on, unique=d.unique, unique_for=d.unique_for,
                unique_key=d.unique_key, rate_limit=d.rate_limit,
                concurrency_limit=d.concurrency_limit, limit_key=d.limit_key,
            ), d.at_front)
            for d in job_datas
        ]

    def _enqueue_jobs(self, jobs: list[tuple[Job, bool]], due: float | None = None,
                      pipeline: Any = None) -> list[Job]:
        if not jobs:
            return []
        with middleware.enqueuing(self.name, [job for job, _ in jobs]):
            return self._send(jobs, due, pipeline)

    def _send(self, jobs: list[tuple[Job, bool]], due: float | None, pipeline: Any
              ) -> list[Job]:
        inline = "" if self._is_async else _inline_worker_name()
        chunks = enqueueing.chunked(jobs)
        # every job is serialized (and checked) before anything is sent
        batches = [enqueueing.packed(chunk, due, self.name) for chunk in chunks]
        for job, _ in jobs:
            job._frozen_fields = None  # sent now: a later save() serializes anew
        if pipeline is not None:
            for packed in batches:
                steps.enqueue_on(pipeline, self.name, inline, _INLINE_LEASE, packed)
            for job, _ in jobs:
                job.origin = self.name
            return [job for job, _ in jobs]
        try:
            replies = steps.enqueue(self.connection, self.name, inline, _INLINE_LEASE, batches)
        except scripts.Interrupted as exc:
            raise enqueueing.interrupted(chunks, exc) from exc
        enqueueing.raise_for_refused(chunks, replies)
        result: list[Job] = []
        kept: dict[int, str] = {}  # a duplicate's place in result -> the id of the job kept
        for job, outcome, kept_id, now in enqueueing.outcomes(chunks, replies):
            if kept_id is None:
                self._after_enqueue(job, outcome, now)
            else:
                kept[len(result)] = kept_id
            result.append(job)
        if kept:
            self._return_kept(result, kept)
        if inline:
            for n, job in enumerate(result):
                if n not in kept and job.status == JobStatus.STARTED:
                    run_inline(job, inline)
        return result

    def _return_kept(self, result: list[Job], kept: dict[int, str]) -> None:
        """Documented choice: a job whose id, or uniqueness key, an active job has is not
        enqueued again; the job kept is returned in its place (all fetched in one round
        trip; one gone since then, e.g. deleted, is returned with no status)."""
        found = self.job_class.fetch_many(list(kept.values()), connection=self.connection,
                                          serializer=self.serializer)
        for (n, job_id), job in zip(kept.items(), found, strict=True):
            result[n] = job if job is not None else self.job_class(
                job_id, connection=self.connection, serializer=self.serializer)

    def _after_enqueue(self, job: Job, outcome: str, now: bytes) -> Job:
        job.origin = self.name
        job.set_status(outcome)
        job.created_at = from_timestamp(now)
        if outcome in (JobStatus.QUEUED, JobStatus.STARTED):
            job.enqueued_at = job.created_at
        return job

    # --- reading ---------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self.connection.zcard(self.key)

    def __len__(self) -> int:
        return self.count

    def is_empty(self) -> bool:
        return self.count == 0

    def get_job_ids(self, offset: int = 0, length: int = -1) -> list[str]:
        end = -1 if length < 0 else offset + length - 1
        return [decode(i) for i in self.connection.zrange(self.key, offset, end)]

    @property
    def job_ids(self) -> list[str]:
        return self.get_job_ids()

    def get_jobs(self, offset: int = 0, length: int = -1) -> list[Job]:
        found = self.job_class.fetch_many(self.get_job_ids(offset, length),
                                          connection=self.connection, serializer=self.serializer)
        return [job for job in found if job is not None]

    @property
    def jobs(self) -> list[Job]:
        return self.get_jobs()

    def get_position(self, job_or_id: Job | str) -> int | None:
        job_id = job_or_id.id if isinstance(job_or_id, Job) else job_or_id
        return self.connection.zrank(self.key, job_id)

    get_job_position = get_position

    def fetch_job(self, job_id: str) -> Job | None:
        try:
            job = self.job_class.fetch(job_id, connection=self.connection,
                                       serializer=self.serializer)
        except NoSuchJobError:
            return None
        return job if job.origin == self.name else None

    # --- removing --------------------------------------------------------------------

    def remove(self, job_or_id: Job | str, pipeline: Any = None) -> None:
        """Take a queued job off the queue and delete it (it must not be left nowhere)."""
        job_id = job_or_id.id if isinstance(job_or_id, Job) else job_or_id
        if self.connection.zscore(self.key, job_id) is not None:
            steps.delete(self.connection, [job_id])

    def empty(self) -> int:
        """Delete every queued job, in batches; returns how many."""
        removed = 0
        while True:
            batch = steps.empty(self.connection, self.name, 1000)
            removed += batch
            if batch == 0:
                return removed

    def delete(self, delete_jobs: bool = True) -> None:
        if delete_jobs:
            self.empty()
        pipe = self.connection.pipeline()
        pipe.delete(self.key, keys.notify(self.name))
        pipe.srem(keys.queues(), self.name)
        pipe.srem(keys.paused(), self.name)  # a queue made again later starts running
        pipe.execute()

    # --- pausing (pausing.py) ----------------------------------------------------------

    def pause(self) -> bool:
        """No worker takes from it until resumed; it still accepts jobs. Was it running?"""
        return pausing.pause(self.connection, self.name)

    def resume(self) -> bool:
        """Workers take from it again, one blocked on it at once. Was it paused?"""
        return pausing.resume(self.connection, self.name)

    @property
    def is_paused(self) -> bool:
        return pausing.is_paused(self.connection, self.name)

    # --- registries ------------------------------------------------------------------

    def _registry(self, kind: str) -> Any:
        return registry.REGISTRY_CLASSES[kind](queue=self)

    started_job_registry: StartedJobRegistry = property(lambda q: q._registry("started"))
    finished_job_registry: FinishedJobRegistry = property(lambda q: q._registry("finished"))
    failed_job_registry: FailedJobRegistry = property(lambda q: q._registry("failed"))
    deferred_job_registry: DeferredJobRegistry = property(lambda q: q._registry("deferred"))
    scheduled_job_registry: ScheduledJobRegistry = property(lambda q: q._registry("scheduled"))
    canceled_job_registry: CanceledJobRegistry = property(lambda q: q._registry("canceled"))


#: how long an inline (is_async=False) job may run before workers may take it back
_INLINE_LEASE = 24 * 3600


def _inline_worker_name() -> str:
    return f"inline:{socket.gethostname()}:{os.getpid()}"
