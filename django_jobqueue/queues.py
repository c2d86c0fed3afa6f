"""Queues and workers built from settings, and the transaction-safe enqueue."""

from __future__ import annotations

from typing import Any

from django.db import connections as databases
from django.db import transaction

from . import clients, conf
from .engine.job import Job
from .engine.queue import Queue
from .engine.worker import Worker


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
        alias = _open_transaction() if self.commit_mode == "on_commit" else None
        if alias is None or pipeline is not None or not self.is_async:
            return super()._enqueue_jobs(jobs, due=due, pipeline=pipeline)
        for job, _ in jobs:
            job.stored_fields()  # bad arguments fail here, at the call, not at the commit
            job.origin = self.name
        transaction.on_commit(lambda: Queue._enqueue_jobs(self, jobs, due=due), using=alias)
        return [job for job, _ in jobs]


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


def get_worker(*queue_names: str, **options: Any) -> Worker:
    """A worker for the named queues (strict priority in that order; default: ``default``).

    The queues must share one connection: a worker blocks on one Redis.
    """
    queues = [get_queue(name) for name in (queue_names or ("default",))]
    names = {conf.queue_options(q.name).get("CONNECTION", "default") for q in queues}
    if len(names) > 1:
        raise ValueError(
            f"One worker serves queues of one connection; these use {', '.join(sorted(names))}"
        )
    return Worker(queues, connection=queues[0].connection, **options)
