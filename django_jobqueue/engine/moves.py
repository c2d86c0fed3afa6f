"""Moves of jobs by id, shared by Job, the registries and the failed queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import scripts
from .exceptions import InvalidJobOperation, NoSuchJobError
from .utils import decode

if TYPE_CHECKING:
    from redis import Redis


def requeue_jobs(connection: Redis, job_ids: Sequence[str], at_front: bool = False,
                 allowed: Sequence[str] = ("failed", "stopped")) -> int:
    """Requeue jobs by id in one round trip; raises on the first that cannot be requeued."""
    reply = scripts.get("requeue")(
        connection, ",".join(allowed), "1" if at_front else "", "ids", *job_ids
    )
    for job_id, outcome in zip(job_ids, reply[1:], strict=True):
        outcome = decode(outcome)
        if outcome == "missing":
            raise NoSuchJobError(f"No such job: {job_id}")
        if outcome != "ok":
            raise InvalidJobOperation(
                f"Job {job_id} cannot be requeued: it is {outcome.split(':', 1)[1]}, "
                f"not {' or '.join(allowed)}"
            )
    return int(reply[0])


def cancel_job(connection: Redis, job_id: str) -> None:
    """Queued, scheduled or deferred -> canceled registry, in one step."""
    reply = decode(scripts.get("cancel")(connection, job_id))
    if reply == "missing":
        raise NoSuchJobError(f"No such job: {job_id}")
    if reply != "ok":
        raise InvalidJobOperation(
            f"Job {job_id} cannot be canceled: it is {reply.split(':', 1)[1]}"
        )


#: statuses an operator may requeue (a queued, scheduled, deferred or running job may not)
REQUEUE_ALLOWED = ("failed", "stopped", "canceled", "finished")
#: how long an operator's stop request waits for the worker to notice it
STOP_REQUEST_TTL = 600


def stop_job(connection: Redis, job_id: str) -> None:
    """Ask the worker running this job to stop it now; the worker records it as stopped
    (its maintenance thread notices within a second). Raises unless the job is started."""
    reply = decode(scripts.get("stop")(connection, job_id, STOP_REQUEST_TTL))
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
        reply = scripts.get("requeue")(connection, ",".join(REQUEUE_ALLOWED), "", "ids",
                                       *job_ids)
        return {i: decode(r) for i, r in zip(job_ids, reply[1:], strict=True)}
    if action == "delete":
        replies = scripts.stream(connection, scripts.get("delete"), [[i] for i in job_ids])
        return {i: "ok" if int(r) else "missing" for i, r in zip(job_ids, replies, strict=True)}
    if action == "cancel":
        batches = [[i] for i in job_ids]
    elif action == "stop":
        batches = [[i, STOP_REQUEST_TTL] for i in job_ids]
    else:
        raise ValueError(f"unknown action {action!r}")
    replies = scripts.stream(connection, scripts.get(action), batches)
    return {i: decode(r) for i, r in zip(job_ids, replies, strict=True)}
