"""Queues and workers built from settings, and the transaction-safe enqueue."""

from __future__ import annotations

from typing import Any

import redis
from django.db import connections as databases
from django.db import transaction

from .. import signals
from ..engine.job import Job
from ..engine.queue import Queue
from ..engine.utils import parse_duration
from .clients import get_client
from .settings import COMMIT_MODES, load
from .worker import DjangoWorker


class DjangoQueue(Queue):
    """A queue whose enqueues made inside ``transaction.atomic()`` wait for the commit
    (COMMIT_MODE "on_commit", the default) and are dropped on rollback. The Job (with its
    final id) is returned at once; its status stays None until the commit enqueues it.

    ``default_result_ttl`` and ``default_failure_ttl`` apply to jobs enqueued without their
    own (a queue's DEFAULT_RESULT_TTL and DEFAULT_FAILURE_TTL settings)."""

    def __init__(self, *args: Any, default_result_ttl: Any = None,
                 default_failure_ttl: Any = None, commit_mode: str = "on_commit",
                 **kwargs: Any) -> None:
        if commit_mode not in COMMIT_MODES:
            raise ValueError(f"commit_mode {commit_mode!r}: use one of {', '.join(COMMIT_MODES)}")
        super().__init__(*args, **kwargs)
        self.default_result_ttl = default_result_ttl
        self.default_failure_ttl = default_failure_ttl
        self.commit_mode = commit_mode

    def apply_defaults(self, job: Job) -> Job:
        """The queue's TTL defaults for a job that sets none, on every enqueue path
        (``enqueue_job`` of a ``Job.create`` job too)."""
        if job.result_ttl is None and self.default_result_ttl is not None:
            job.result_ttl = parse_duration(self.default_result_ttl, "DEFAULT_RESULT_TTL")
        if job.failure_ttl is None and self.default_failure_ttl is not None:
            job.failure_ttl = parse_duration(self.default_failure_ttl, "DEFAULT_FAILURE_TTL")
        return super().apply_defaults(job)

    def pending_commit_alias(self) -> str | None:
        """The database alias whose commit an enqueue made now waits for; None when it
        reaches Redis at once (no open transaction, COMMIT_MODE "immediate", or ASYNC off)."""
        if self.commit_mode != "on_commit" or not self.is_async:
            return None
        for connection in databases.all(initialized_only=True):
            if connection.in_atomic_block:
                return connection.alias
        return None

    def _enqueue_jobs(self, jobs: list[tuple[Job, bool]], due: float | None = None,
                      pipeline: Any = None) -> list[Job]:
        if pipeline is not None:  # reaches Redis when the caller executes it: no signal
            return super()._enqueue_jobs(jobs, due=due, pipeline=pipeline)
        alias = self.pending_commit_alias()
        if alias is None:
            return self._enqueue_now(jobs, due)
        for job, _ in jobs:
            job.freeze()  # bad arguments fail at the call, not at the commit
            job.origin = self.name
        transaction.on_commit(lambda: self._enqueue_now(jobs, due), using=alias)
        return [job for job, _ in jobs]

    def _enqueue_now(self, jobs: list[tuple[Job, bool]], due: float | None) -> list[Job]:
        """Enqueue, then send ``job_enqueued`` for each job that reached Redis (a duplicate
        job id returns the existing job, which was not enqueued again)."""
        enqueued = super()._enqueue_jobs(jobs, due=due)
        for (job, _), result in zip(jobs, enqueued, strict=True):
            if result is job:
                signals.send(signals.job_enqueued, sender=type(self), job=job, queue=self)
        return enqueued


def get_queue(name: str = "default", *, default_timeout: Any = None,
              is_async: bool | None = None, serializer: Any = None) -> DjangoQueue:
    """The queue ``name`` of ``JOBQUEUE['QUEUES']`` (UnknownQueue, a KeyError, naming the
    configured ones). A keyword given overrides the queue's setting."""
    config = load()
    options = config.queue(name)
    return DjangoQueue(
        name,
        connection=get_client(options.connection),
        default_timeout=options.default_timeout if default_timeout is None else default_timeout,
        is_async=options.is_async if is_async is None else is_async,
        serializer=options.serializer if serializer is None else serializer,
        default_result_ttl=options.default_result_ttl,
        default_failure_ttl=options.default_failure_ttl,
        default_retry=options.default_retry, default_limit=options.default_limit,
        commit_mode=config.commit_mode,
    )


def get_connection(queue_name: str = "default") -> redis.Redis:
    """The Redis client of a *queue*'s connection (django-rq's name and signature). For a
    connection by its own name, see ``integration.clients.get_client``."""
    return get_client(load().queue(queue_name).connection)


def enqueue(func: Any, *args: Any, **kwargs: Any) -> Job:
    """Enqueue on the ``default`` queue."""
    return get_queue("default").enqueue(func, *args, **kwargs)


def get_worker(*queue_names: str, **options: Any) -> DjangoWorker:
    """A DjangoWorker for the named queues (strict priority in that order; default:
    ``default``).

    The queues must share one connection: a worker blocks on one Redis.
    """
    names = queue_names or ("default",)
    connections = {load().queue(name).connection for name in names}
    if len(connections) > 1:
        raise ValueError("One worker serves queues of one connection; these use "
                         + ", ".join(sorted(connections)))
    queues = [get_queue(name) for name in names]
    return DjangoWorker(queues, connection=queues[0].connection, **options)
