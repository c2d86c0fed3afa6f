"""How an enqueue travels to enqueue.lua and back: jobs packed one argument each, in
batches; the outcome of each job read from the replies; and the errors that say which jobs
are stored when a batch is refused or the connection is lost (Queue's enqueue paths use
these; the script's header is the other half of the contract)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from . import scripts, uniqueness
from .exceptions import (
    EnqueueInterrupted,
    EnqueueRefused,
    GroupCompleted,
    MissingDependency,
    NoSuchGroupError,
)
from .utils import decode

if TYPE_CHECKING:
    from .job import Job

#: the replies of a batch the script refused without writing any of it
REFUSALS = ("missing-dependency", "missing-group", "group-completed")
#: jobs per script call inside one enqueue_many round trip
BATCH = 500


def chunked(jobs: list[tuple[Job, bool]]) -> list[list[tuple[Job, bool]]]:
    return [jobs[start:start + BATCH] for start in range(0, len(jobs), BATCH)]


def packed(chunk: list[tuple[Job, bool]], due: float | None, queue_name: str) -> list[bytes]:
    """The enqueue script's job arguments for a batch, one packed argument per job: id,
    flags, ttl, due, dependencies, priority, then the hash's field/value pairs (a unique
    job's uniqueness fields first, flag 'u'; flag 'a': its dependencies may fail; 'g': it
    joins a group; 'l': it has a limit)."""
    packed = []
    due_text = "" if due is None else f"{due:.6f}"
    for job, at_front in chunk:
        job_id = job.id
        if job.dependency_ids and job_id in job.dependency_ids:
            raise ValueError(f"Job {job_id} cannot depend on itself")
        # serializing raises (naming the argument) before anything is written
        fields = job.stored_fields()
        if job.trace_context:  # set by a middleware for this enqueue (never frozen)
            fields = [*fields, "trace", json.dumps(job.trace_context, separators=(",", ":"))]
        unique = uniqueness.packed_fields(job, queue_name)
        flags = ("f" if at_front else "") + ("n" if job.fresh_id else "") + ("u" if unique else "")
        if job.allow_dependency_failures:
            flags += "a"  # (enqueue.lua: a dependency that ended badly is met)
        if job.group_id:
            flags += "g"  # it joins its group (groups.py)
        if job.limit_key:
            flags += "l"  # its limit is recorded (limits.py)
        job.fresh_id = False  # sent: enqueuing this Job again checks for a duplicate
        packed.append(scripts.pack_fields([
            job_id, flags, job.ttl or 0, due_text, ",".join(job.dependency_ids),
            job.priority, *unique, *fields,
        ]))
    return packed


def outcomes(chunks: list[list[tuple[Job, bool]]], replies: list[Any]
             ) -> Iterator[tuple[Job, str, str | None, bytes]]:
    """(job, outcome, id of the job it duplicates or None, the script's time) per job of
    answered batches. A duplicate's outcome is ``duplicate`` (of a job with its id) or
    ``duplicate:<id>`` (of the job holding its uniqueness key)."""
    for reply, chunk in zip(replies, chunks, strict=True):
        now = reply[0]
        for (job, _), raw in zip(chunk, reply[1:], strict=True):
            outcome, _, holder = decode(raw).partition(":")
            if outcome == "duplicate":
                yield job, outcome, holder or job.id, now
            else:
                yield job, outcome, None, now


def _ids(chunks: list[list[tuple[Job, bool]]]) -> list[str]:
    return [job.id for chunk in chunks for job, _ in chunk]


def _counts(enqueued: list[str], not_enqueued: list[str], unknown: list[str],
            unknown_means: str) -> str:
    """"500 job(s) stored, 700 job(s) <unknown_means>": an enqueue error's breakdown."""
    return ", ".join(f"{len(ids)} job(s) {what}" for what, ids in (
        ("stored", enqueued), ("not stored", not_enqueued), (unknown_means, unknown)) if ids)


def interrupted(chunks: list[list[tuple[Job, bool]]],
                exc: scripts.Interrupted) -> EnqueueInterrupted:
    """What a lost connection left. A batch whose reply was read is stored (or, when the
    reply refused it, not stored; an error reply: unknown); a batch that met NOSCRIPT did
    not run; the batches after the cut may have run, unless nothing was sent."""
    enqueued: list[str] = []
    not_enqueued: list[str] = []
    unknown: list[str] = []
    for n, chunk in enumerate(chunks):
        ids = _ids([chunk])
        if n >= len(exc.replies):
            (unknown if exc.sent else not_enqueued).extend(ids)
            continue
        reply = exc.replies[n]
        if reply is None or (not isinstance(reply, Exception)
                             and decode(reply[0]) in REFUSALS):
            not_enqueued.extend(ids)
        elif isinstance(reply, Exception):
            unknown.extend(ids)
        else:
            enqueued.extend(ids)
    counts = _counts(enqueued, not_enqueued, unknown, "may or may not be stored: look each id "
                     "up (Job.exists) before enqueuing it again with the same job_id")
    return EnqueueInterrupted(
        f"The connection to Redis was lost during the enqueue ({exc}): {counts}",
        _ids(chunks), enqueued_ids=enqueued, not_enqueued_ids=not_enqueued,
        unknown_ids=unknown,
    )


def raise_for_refused(chunks: list[list[tuple[Job, bool]]], replies: list[Any]) -> None:
    """A batch answered with an error (it may be partly stored) or with a missing
    dependency (it is not stored): raise, saying which jobs are stored."""
    errors = [n for n, reply in enumerate(replies) if isinstance(reply, ResponseError)]
    for n, reply in enumerate(replies):
        if n not in errors and decode(reply[0]) in ("missing-group", "group-completed"):
            job_id, group = decode(reply[1]), decode(reply[2])
            if decode(reply[0]) == "missing-group":
                raise NoSuchGroupError(f"No such group: {group} (job {job_id} was not "
                                       "stored: create the group with Group.create first)")
            raise GroupCompleted(f"Group {group} has completed (its callbacks ran): job "
                                 f"{job_id} was not stored; enqueue into a new group")
    missing = [n for n, reply in enumerate(replies)
               if n not in errors and decode(reply[0]) == "missing-dependency"]
    if not errors and not missing:
        return
    breakdown = {
        "enqueued_ids": _ids([c for n, c in enumerate(chunks) if n not in errors + missing]),
        "not_enqueued_ids": _ids([chunks[n] for n in missing]),
        "unknown_ids": _ids([chunks[n] for n in errors]),
    }
    counts = _counts(breakdown["enqueued_ids"], breakdown["not_enqueued_ids"],
                     breakdown["unknown_ids"],
                     "maybe partly stored (look each id up with Job.exists)")
    first = min(errors + missing)
    if first in errors:
        raise EnqueueRefused(f"Redis refused the enqueue: {replies[first]}; {counts}",
                             _ids(chunks), **breakdown) from replies[first]
    job_id, dependency = decode(replies[first][1]), decode(replies[first][2])
    raise MissingDependency(
        f"Job {job_id} depends on job {dependency}, which does not exist (never saved, "
        f"deleted, or expired after it ran); {counts}", _ids(chunks), **breakdown)
