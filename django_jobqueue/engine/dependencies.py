"""Dependencies between jobs: what ``depends_on`` accepts (ids, Jobs, or RQ's
:class:`Dependency` with ``allow_failure`` and ``enqueue_at_front``), the fields a job stores
for them, and the accessors a job offers on its parents (``job.dependency``,
``job.dependencies``, ``job.dependencies_results()``).

The moves themselves are Lua (scripts/_dependencies.lua): a parent's end releases or
cancels its dependents in the step that records it, and requeueing it restores those it
canceled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import keys
from .calls import validate_job_id
from .results import Result

#: a Job (engine/job.py imports this module, so the type is not imported here)
Job = Any

__all__ = ["Dependency"]


class Dependency:
    """RQ's ``Dependency``: the jobs (Jobs or ids) a job waits for. With ``allow_failure``
    the job runs once every one of them ended (finished, failed, stopped or canceled);
    without it, one that ends without finishing cancels the job. With ``enqueue_at_front``
    the job goes to the front of its queue when released."""

    def __init__(self, jobs: Sequence[Any] | Any, allow_failure: bool = False,
                 enqueue_at_front: bool = False) -> None:
        items = list(jobs) if isinstance(jobs, list | tuple) else [jobs]
        if not items:
            raise ValueError("Dependency(jobs=...) needs at least one job")
        self.dependencies = items
        self.allow_failure = bool(allow_failure)
        self.enqueue_at_front = bool(enqueue_at_front)

    def __repr__(self) -> str:
        return (f"Dependency({dependency_ids(self.dependencies)!r}, allow_failure="
                f"{self.allow_failure}, enqueue_at_front={self.enqueue_at_front})")


def dependency_ids(depends_on: Any) -> list[str]:
    """The ids ``depends_on`` names: an id, a Job, a list of those, or a Dependency."""
    if depends_on is None:
        return []
    if isinstance(depends_on, Dependency):
        depends_on = depends_on.dependencies
    items = depends_on if isinstance(depends_on, list | tuple) else [depends_on]
    ids = []
    for item in items:
        if isinstance(item, Dependency):
            raise TypeError("depends_on takes one Dependency, not a list holding one: put "
                            "every job in Dependency(jobs=[...])")
        job_id = getattr(item, "id", item)  # a Job or an id
        ids.append(validate_job_id(job_id))
    return ids


def set_dependencies(job: Job, depends_on: Any) -> None:
    """Fill the job's dependency attributes from ``depends_on`` (at Job.create)."""
    job.dependency_ids = dependency_ids(depends_on)
    if isinstance(depends_on, Dependency):
        job.allow_dependency_failures = depends_on.allow_failure
        job.enqueue_at_front = depends_on.enqueue_at_front


def stored_fields(job: Job) -> list[Any]:
    """The dependency and chain field/value pairs a job writes at enqueue (none for a job
    without dependencies outside a chain)."""
    fields: list[Any] = []
    if job.dependency_ids:
        fields += ["dependency_ids", ",".join(job.dependency_ids)]
        if job.allow_dependency_failures:
            fields += ["allow_dependency_failures", "1"]
        if job.enqueue_at_front:
            fields += ["enqueue_at_front", "1"]
    if job.chain_id:
        fields += ["chain_id", job.chain_id]
    if job.chain_steps:
        fields += ["chain_steps", ",".join(job.chain_steps)]
    return fields


class JobDependencies:
    """The dependency side of :class:`~.job.Job`: the stored attributes' defaults and the
    accessors on a job's parents (the same from inside a job, on ``get_current_job()``)."""

    dependency_ids: Sequence[str] = ()
    #: Dependency(allow_failure=True): run once every parent ended, whatever its outcome
    allow_dependency_failures: bool = False
    #: Dependency(enqueue_at_front=True): released to the front of the queue
    enqueue_at_front: bool = False
    #: why the job was canceled when a parent's end canceled it, and that parent's id
    canceled_reason: str | None = None
    canceled_by: str | None = None
    #: the chain (chains.py) this job is a step of: its id, and on its first step the steps
    chain_id: str | None = None
    chain_steps: Sequence[str] = ()

    @property
    def dependency(self: Any) -> Job | None:
        """The first job this one depends on (RQ's), fetched; None without dependencies."""
        if not self.dependency_ids:
            return None
        return type(self).fetch(self.dependency_ids[0], connection=self.connection,
                                serializer=self.serializer)

    @property
    def dependencies(self: Any) -> list[Job | None]:
        """Every job this one depends on, fetched in one round trip (None: gone)."""
        return self.fetch_dependencies()

    def fetch_dependencies(self: Any, watch: bool = False, pipeline: Any = None
                           ) -> list[Job | None]:
        """RQ's name for :attr:`dependencies` (``watch`` and ``pipeline`` are not used:
        reading is one round trip)."""
        return type(self).fetch_many(self.dependency_ids, connection=self.connection,
                                     serializer=self.serializer)

    def dependencies_results(self: Any) -> dict[str, Any]:
        """Parent id -> the return value of its latest run (None when it has none: it failed,
        or its result expired), read in one round trip."""
        pipe = self.connection.pipeline(transaction=False)
        for parent in self.dependency_ids:
            pipe.lindex(keys.results(parent), 0)
        values = {}
        for parent, blob in zip(self.dependency_ids, pipe.execute(), strict=True):
            result = Result.from_payload(parent, blob, self.serializer) if blob else None
            ok = result is not None and result.type == Result.Type.SUCCESSFUL
            values[parent] = result.return_value if ok else None
        return values
