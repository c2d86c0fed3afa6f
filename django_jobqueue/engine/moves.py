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
