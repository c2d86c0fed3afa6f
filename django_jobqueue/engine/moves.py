"""Moves of jobs by id, shared by Job, the registries, the failed queue and the admin: each
turns a step's per-id verdicts into return values and errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from . import steps
from .exceptions import InvalidJobOperation, NoSuchJobError
from .states import MOVES

if TYPE_CHECKING:
    from redis import Redis

#: statuses an operator may requeue (a queued, scheduled, deferred or running job may not)
REQUEUE_ALLOWED = tuple(sorted(MOVES["operator_requeue"].sources))
#: how long an operator's stop request waits for the worker to notice it
STOP_REQUEST_TTL = 600


def requeue_jobs(connection: Redis, job_ids: Sequence[str], at_front: bool = False,
                 allowed: Iterable[str] = MOVES["requeue"].sources) -> int:
    """Requeue jobs by id in one round trip; raises on the first that cannot be requeued."""
    allowed = sorted(str(s) for s in allowed)
    count, outcomes = steps.requeue(connection, job_ids, allowed, at_front)
    for job_id, outcome in zip(job_ids, outcomes, strict=True):
        if outcome == "missing":
            raise NoSuchJobError(f"No such job: {job_id}")
        if outcome != "ok":
            raise InvalidJobOperation(
                f"Job {job_id} cannot be requeued: it is {outcome.split(':', 1)[1]}, "
                f"not {' or '.join(allowed)}"
            )
    return count


def cancel_job(connection: Redis, job_id: str) -> None:
    """Queued, scheduled or deferred -> canceled registry, in one step."""
    (reply,) = steps.cancel(connection, [job_id])
    if reply == "missing":
        raise NoSuchJobError(f"No such job: {job_id}")
    if reply != "ok":
        raise InvalidJobOperation(
            f"Job {job_id} cannot be canceled: it is {reply.split(':', 1)[1]}"
        )


def stop_job(connection: Redis, job_id: str) -> None:
    """Ask the worker running this job to stop it now; the worker records it as stopped
    (its maintenance thread notices within a second). Raises unless the job is started."""
    (reply,) = steps.stop(connection, [job_id], STOP_REQUEST_TTL)
    if reply == "missing":
        raise NoSuchJobError(f"No such job: {job_id}")
    if reply != "ok":
        raise InvalidJobOperation(f"Job {job_id} cannot be stopped: it is "
                                  f"{reply.split(':', 1)[1]}, not started")


send_stop_job_command = stop_job  # RQ's name


def apply_to_many(connection: Redis, action: str, job_ids: Sequence[str]) -> dict[str, str]:
    """Requeue, cancel, stop or delete many jobs in one round trip; each id's outcome is
    'ok', 'missing' or 'status:<status>' (its status does not allow the action)."""
    if not job_ids:
        return {}
    if action == "requeue":
        outcomes = steps.requeue(connection, job_ids, REQUEUE_ALLOWED)[1]
    elif action == "delete":
        outcomes = ["ok" if found else "missing"
                    for found in steps.delete_each(connection, job_ids)]
    elif action == "cancel":
        outcomes = steps.cancel(connection, job_ids)
    elif action == "stop":
        outcomes = steps.stop(connection, job_ids, STOP_REQUEST_TTL)
    else:
        raise ValueError(f"unknown action {action!r}")
    return dict(zip(job_ids, outcomes, strict=True))
