"""Queues and workers built from settings, and the transaction-safe enqueue."""

from __future__ import annotations

from typing import Any

from django.db import connections as databases
from django.db import transaction

from . import clients, conf, signals
from .djangoworker import DjangoWorker
from .engine.job import Job
from .engine.queue import Queue


class DjangoQueue(Queue):
    """A queue whose enqueues made inside ``transaction.atomic()`` wait for the commit
    (COMMIT_MODE "on_commit", the default) and are dropped on rollback. The Job (with its
    final id) is returned at once; its status stays None until the commit enqueues it."""

    commit_mode = "on_commit"
    default_result_ttl: int | None = None
    default_failure_ttl: int | None = None

    def create_job(self, func: Any, args: Any = None, kwargs: dict | None = None,
                   timeout: Any = None, job_id: str | None = None, **options: Any) -> Job:
        if options.get("result_ttl") is None and self.default_result_ttl is not None:
            options["result_ttl"] = self.default_result_ttl
        if options.get("failure_ttl") is None and self.default_failure_ttl is not None:
            options["failure_ttl"] = self.default_failure_ttl
        return super().create_job(func, args=args, kwargs=kwargs, timeout=timeout,
                                  job_id=job_id, **options)

    def _enqueue_jobs(self, jobs: list[tuple[Job, bool]], due: float | None = None,
                      pipeline: Any = None) -> list[Job]:
        if pipeline is not None:  # reaches Redis when the caller executes it: no signal
            return super()._enqueue_jobs(jobs, due=due, pipeline=pipeline)
        alias = _open_transaction() if self.commit_mode == "on_commit" else None
        if alias is None or not self.is_async:
            return self._enqueue_now(jobs, due)
        for job, _ in jobs:
            job.stored_fields()  # bad arguments fail here, at the call, not at the commit
            job.origin = self.name
        transaction.on_commit(lambda: self._enqueue_now(jobs, due), using=alias)
        return [job for job, _ in jobs]

    def _enqueue_now(self, jobs: list[tuple[Job, bool]], due: float | None) -> list[Job]:
        """Enqueue, then send ``job_enqueued`` for each job that reached Redis (a duplicate
        job id returns the existing job, which was not enqueued again)."""
        enqueued = Queue._enqueue_jobs(self, jobs, due=due)
        for (job, _), result in zip(jobs, enqueued, strict=True):
            if result is job:
                signals.send(signals.job_enqueued, sender=type(self), job=job, queue=self)
        return enqueued


def _open_transaction() -> str | None:
    """The alias of a database inside ``atomic()`` right now, if any."""
    for connection in databases.all(initialized_only=True):
        if connection.in_atomic_block:
            return connection.alias
    return None


def get_queue(name: str = "default", **overrides: Any) -> DjangoQueue:
    """The queue ``name`` of ``JOBQUEUE['QUEUES']`` (KeyError naming the known ones)."""
    options = conf.queue_options(name)
    queue = DjangoQueue(
        name,
        connection=clients.get_connection(options.get("CONNECTION", "default")),
        default_timeout=overrides.get("default_timeout", options.get("DEFAULT_TIMEOUT")),
        is_async=overrides.get("is_async", options.get("ASYNC", True)),
        serializer=overrides.get("serializer", options.get("SERIALIZER")),
    )
    queue.commit_mode = conf.commit_mode()
    queue.default_result_ttl = options.get("DEFAULT_RESULT_TTL")
    queue.default_failure_ttl = options.get("DEFAULT_FAILURE_TTL")
    return queue


def get_connection(queue_name: str = "default"):  # noqa: ANN201 (a redis client)
    """The Redis client of a queue's connection."""
    return clients.get_connection(conf.queue_options(queue_name).get("CONNECTION", "default"))


def enqueue(func: Any, *args: Any, **kwargs: Any) -> Job:
    """Enqueue on the ``default`` queue."""
    return get_queue("default").enqueue(func, *args, **kwargs)


def get_worker(*queue_names: str, **options: Any) -> DjangoWorker:
    """A DjangoWorker for the named queues (strict priority in that order; default:
    ``default``).

    The queues must share one connection: a worker blocks on one Redis.
    """
    queues = [get_queue(name) for name in (queue_names or ("default",))]
    names = {conf.queue_options(q.name).get("CONNECTION", "default") for q in queues}
    if len(names) > 1:
        raise ValueError(
            f"One worker serves queues of one connection; these use {', '.join(sorted(names))}"
        )
    return DjangoWorker(queues, connection=queues[0].connection, **options)
