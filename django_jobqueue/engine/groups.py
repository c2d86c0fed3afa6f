"""Groups (RQ's ``Group``): many jobs enqueued as one, their progress, and callbacks that run
exactly once after the group's last job ended.

``Group.create(connection, name=None, on_complete=None, on_success=None, on_failure=None)``
stores the group and its callbacks; ``group.enqueue_many(queue, [Queue.prepare_data(...),
...])`` adds jobs (one round trip per call). Each step that ends a job of the group counts
it, in the same atomic step (``_groups.lua``), and the step that ends the last one puts the
callbacks on the group's queue as jobs of their own: ``on_complete`` always, ``on_success``
when every job finished, ``on_failure`` otherwise. A callback is called with the Group (its
jobs, and so every result). A group whose callbacks ran takes no more jobs
(:class:`GroupCompleted`); it expires ``ttl`` seconds after that (7 days by default).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from redis import Redis

from . import keys, scripts, steps
from .callbacks import as_callback
from .calls import JOB_ID_PATTERN
from .connections import resolve_connection
from .exceptions import NoSuchGroupError
from .fields import lenient_number, lenient_time
from .job import Job
from .utils import decode, import_attribute, parse_duration

if TYPE_CHECKING:
    from .queue import EnqueueData, Queue

#: seconds a group is kept after its last job ended
DEFAULT_GROUP_TTL = 7 * 24 * 3600
CALLBACK_KINDS = ("on_complete", "on_success", "on_failure")
#: the ways a job of a group ends, as the group counts them
ENDINGS = ("finished", "failed", "stopped", "canceled", "deleted")


def run_group_callback(group_name: str, func_name: str, kind: str) -> Any:
    """The function of a group's callback job: calls ``func(group)``."""
    from .execution import get_current_job

    current = get_current_job()
    connection = current.connection if current is not None else None
    group = Group.fetch(group_name, connection=connection)
    return import_attribute(func_name)(group)


@dataclass(frozen=True)
class GroupProgress:
    """A group's counts as its steps keep them: ``total`` jobs, ``pending`` (not ended yet)
    and one count per way of ending."""

    total: int
    pending: int
    finished: int
    failed: int
    stopped: int
    canceled: int
    deleted: int
    completed_at: datetime | None

    @property
    def ended(self) -> int:
        return self.total - self.pending


class Group:
    """A set of jobs tracked under one name (see the module docstring)."""

    def __init__(self, connection: Redis | None = None, name: str | None = None) -> None:
        self.connection = resolve_connection(connection)
        self.name = name if name else os.urandom(16).hex()
        self.key = keys.group(self.name)

    def __repr__(self) -> str:
        return f"Group(name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Group) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @classmethod
    def create(cls, connection: Redis | None = None, name: str | None = None,
               on_complete: Any = None, on_success: Any = None, on_failure: Any = None,
               ttl: Any = None) -> Group:
        """Store a new group (one round trip). A name that a group already has returns that
        group when no callback is given; with callbacks it raises ValueError (a group's
        callbacks are set once)."""
        group = cls(connection, name)
        if name is not None and (not isinstance(name, str) or not JOB_ID_PATTERN.fullmatch(name)):
            raise ValueError(f"Invalid group name {name!r}: use 1 to 128 of [A-Za-z0-9_-]")
        seconds = parse_duration(ttl, "ttl")
        seconds = DEFAULT_GROUP_TTL if seconds is None else seconds
        if seconds <= 0:
            raise ValueError(f"a group's ttl must be a positive number of seconds, not {ttl!r}")
        packed: list[Any] = []
        for kind, value in zip(CALLBACK_KINDS, (on_complete, on_success, on_failure),
                               strict=True):
            callback = as_callback(value, kind)
            if callback is not None:
                job = Job.create(run_group_callback, args=(group.name, callback.func_name, kind),
                                 connection=group.connection, timeout=callback.timeout,
                                 description=f"{kind} of group {group.name}: "
                                             f"{callback.func_name}")
                packed += [kind, job.id, scripts.pack_fields([job.id, *job.stored_fields()])]
        if steps.create_group(group.connection, group.name, seconds, packed) == "exists":
            if packed:
                raise ValueError(f"group {group.name!r} exists: its callbacks are set already "
                                 "(Group.fetch it, or choose another name)")
        return group

    @classmethod
    def fetch(cls, name: str, connection: Redis | None = None) -> Group:
        group = cls(connection, name)
        if not group.connection.exists(group.key):
            raise NoSuchGroupError(f"No such group: {name}")
        return group

    @classmethod
    def all(cls, connection: Redis | None = None) -> list[Group]:
        """Every stored group, newest first (names of expired ones are dropped here)."""
        connection = resolve_connection(connection)
        names = [decode(n) for n in connection.zrevrange(keys.groups(), 0, -1)]
        pipe = connection.pipeline(transaction=False)
        for name in names:
            pipe.exists(keys.group(name))
        alive = pipe.execute()
        gone = [n for n, ok in zip(names, alive, strict=True) if not ok]
        if gone:
            connection.zrem(keys.groups(), *gone)
        return [cls(connection, n) for n, ok in zip(names, alive, strict=True) if ok]

    # --- enqueue ---------------------------------------------------------------------

    def enqueue_many(self, queue: Queue, job_datas: Sequence[EnqueueData],
                     pipeline: Any = None) -> list[Job]:
        """Enqueue jobs into this group, as ``queue.enqueue_many`` (one round trip). The
        group must exist (``Group.create``) and not have completed: else nothing is stored
        (NoSuchGroupError, GroupCompleted)."""
        jobs = queue.build_jobs(job_datas)
        for job, _ in jobs:
            if job.ttl:
                raise ValueError(f"job {job.id}: a group's job cannot have a ttl (one that "
                                 "expired unrun would never end, and the group never complete)")
            job.group_id = self.name
        return queue._enqueue_jobs(jobs, pipeline=pipeline)

    # --- reading ---------------------------------------------------------------------

    def get_job_ids(self, offset: int = 0, length: int = -1) -> list[str]:
        """The group's job ids in enqueue order."""
        end = -1 if length < 0 else offset + length - 1
        return [decode(i) for i in self.connection.zrange(keys.group_jobs(self.name), offset, end)]

    @property
    def job_ids(self) -> list[str]:
        return self.get_job_ids()

    def get_jobs(self) -> list[Job]:
        """The group's jobs that still exist (one round trip for all of them)."""
        return [j for j in Job.fetch_many(self.job_ids, connection=self.connection)
                if j is not None]

    def progress(self) -> GroupProgress:
        """The counts the group's steps keep (one round trip). A corrupt count reads 0."""
        names = ["total", "pending", *(f"n_{e}" for e in ENDINGS), "completed_at"]
        values = self.connection.hmget(self.key, names)
        if values[0] is None:
            raise NoSuchGroupError(f"No such group: {self.name}")
        counts = [int(lenient_number(v)) for v in values[:-1]]
        return GroupProgress(*counts, completed_at=lenient_time(values[-1]))

    @property
    def is_completed(self) -> bool:
        return self.progress().completed_at is not None

    def get_status(self) -> dict[str, int]:
        """Jobs per status now, read from the jobs themselves (one round trip), with
        ``expired`` for those whose hash is gone (their result_ttl ran out)."""
        ids = self.job_ids
        pipe = self.connection.pipeline(transaction=False)
        for job_id in ids:
            pipe.hget(keys.job(job_id), "status")
        counts: dict[str, int] = {}
        for raw in pipe.execute():
            status = decode(raw) if raw is not None else "expired"
            counts[status] = counts.get(status, 0) + 1
        return counts

    def callback_job_ids(self) -> dict[str, str]:
        """kind -> id of the job that runs (or will run) that callback."""
        values = self.connection.hmget(self.key, [f"job_{k}" for k in CALLBACK_KINDS])
        return {kind: decode(v) for kind, v in zip(CALLBACK_KINDS, values, strict=True)
                if v is not None}

    def callback_jobs(self) -> dict[str, Job]:
        """kind -> the callback's job, for the callbacks whose job was enqueued."""
        found = self.callback_job_ids()
        jobs = Job.fetch_many(list(found.values()), connection=self.connection)
        return {kind: job for kind, job in zip(found, jobs, strict=True) if job is not None}

    # --- changing --------------------------------------------------------------------

    def cancel(self) -> int:
        """Cancel every job of the group that has not started (one round trip); each counts
        as ended, so the group completes (its callbacks run) once the running ones end.
        Returns how many were canceled."""
        return steps.cancel(self.connection, self.job_ids).count("ok")

    def delete_job(self, job_id: str, pipeline: Any = None) -> None:
        """Take one job out of the group's list (RQ's; the job itself stays)."""
        (pipeline or self.connection).zrem(keys.group_jobs(self.name), job_id)

    def cleanup(self, pipeline: Any = None) -> None:
        """Drop the ids of jobs that no longer exist from the group's list (RQ's)."""
        ids = self.job_ids
        pipe = self.connection.pipeline(transaction=False)
        for job_id in ids:
            pipe.exists(keys.job(job_id))
        gone = [i for i, ok in zip(ids, pipe.execute(), strict=True) if not ok]
        if gone:
            (pipeline or self.connection).zrem(keys.group_jobs(self.name), *gone)

    def delete(self) -> None:
        """Delete the group and every one of its jobs (no callback runs)."""
        ids = self.job_ids
        self.connection.delete(self.key, keys.group_jobs(self.name))
        self.connection.zrem(keys.groups(), self.name)
        for start in range(0, len(ids), 1000):
            steps.delete(self.connection, ids[start:start + 1000])

