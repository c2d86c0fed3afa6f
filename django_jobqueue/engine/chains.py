"""Chains: a pipeline of jobs on one queue where each step depends on the previous one,
enqueued in one round trip. The chain's id is its first step's id; that step stores the
ids of every step (``chain_steps``) and each step its chain's id (``chain_id``), so
:meth:`Chain.fetch` finds them all from the id alone (while the first step is kept)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .connections import resolve_connection
from .exceptions import NoSuchJobError
from .job import Job
from .queue import EnqueueData

if TYPE_CHECKING:
    from redis import Redis

    from .queue import Queue

__all__ = ["Chain", "chain"]


class Chain:
    """The steps of a chain, in order (a step that is gone reads as None)."""

    def __init__(self, id: str, jobs: Sequence[Job | None]) -> None:
        self.id = id
        self.jobs = list(jobs)

    def __repr__(self) -> str:
        return f"Chain({self.id!r}, {len(self.jobs)} steps)"

    @classmethod
    def fetch(cls, chain_id: str, connection: Redis | None = None,
              serializer: Any = None) -> Chain:
        """The chain whose id is ``chain_id`` (two round trips); NoSuchJobError when its
        first step is gone or is not the first step of a chain."""
        first = Job.fetch(chain_id, connection=resolve_connection(connection),
                          serializer=serializer)
        if first.chain_id != chain_id or not first.chain_steps:
            raise NoSuchJobError(f"Job {chain_id} is not the first step of a chain")
        rest = Job.fetch_many(first.chain_steps[1:], connection=first.connection,
                              serializer=serializer)
        return cls(chain_id, [first, *rest])


def _step_job(queue: Queue, step: EnqueueData | Job) -> tuple[Job, bool]:
    if isinstance(step, Job):
        step.origin = queue.name
        return queue.apply_defaults(step), False
    if not isinstance(step, EnqueueData):
        raise TypeError(f"chain() takes Queue.prepare_data(...) items or Jobs, not {step!r}")
    options = step._asdict()
    func, at_front = options.pop("func"), options.pop("at_front")
    return queue.create_job(func, **options), at_front


def chain(*steps: EnqueueData | Job, queue: Queue, allow_failure: bool = False) -> Chain:
    """Enqueue ``steps`` (``Queue.prepare_data(...)`` items or ``Job.create(...)`` jobs) on
    ``queue`` as a pipeline: each step waits for the previous one (with ``allow_failure``,
    for its end whatever the outcome; without it, a step that fails for good cancels the
    rest, which a requeue of that step restores). Only the first step may have a
    ``depends_on`` of its own. One round trip."""
    if len(steps) < 2:
        raise ValueError("chain() needs at least two steps")
    jobs = [_step_job(queue, step) for step in steps]
    for n, (job, _) in enumerate(jobs[1:], start=1):
        if job.dependency_ids:
            raise ValueError(f"chain() step {n} has a depends_on of its own: only the first "
                             "step may")
        job.dependency_ids = [jobs[n - 1][0].id]
        job.allow_dependency_failures = allow_failure
    ids = [job.id for job, _ in jobs]
    for job, _ in jobs:
        job.chain_id = ids[0]
    jobs[0][0].chain_steps = ids
    enqueued = queue._enqueue_jobs(jobs)  # (one round trip, in one or more batches)
    return Chain(ids[0], enqueued)
