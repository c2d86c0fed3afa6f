"""What a worker does as it starts and leaves: refuse a name a live worker uses, record the
outcome in hand, give back what it holds, and take its record down."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from redis import Redis

from .. import keys, steps
from ..utils import decode_text
from .outages import LOST_CONNECTION

logger = logging.getLogger("django_jobqueue.worker")


def refuse_a_live_namesake(connection: Redis, name: str, hostname: str, pid: int,
                           worker_ttl: float) -> None:
    """Two live workers under one name would hand each other their jobs (a take hands over
    the job the name's record says it holds): refuse to start while another process with
    this name heartbeats (another host, or a live process of this one). A predecessor that
    died is no obstacle: its record is written anew, its jobs come back by their lease."""
    host, other_pid, beat = connection.hmget(keys.worker(name),
                                             ["hostname", "pid", "last_heartbeat"])
    try:
        age = time.time() - float(beat)
        other_pid = int(other_pid)
    except (TypeError, ValueError):
        return  # no record (or a corrupt one): nobody to collide with
    host = decode_text(host)
    if age > worker_ttl or (host == hostname and other_pid == pid):
        return
    if host == hostname and not _alive(other_pid):
        return
    raise ValueError(
        f"A worker named {name!r} is running (host {host}, pid {other_pid}, last heartbeat "
        f"{max(age, 0):.0f} s ago): give this one another name, or stop that one first")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_before(connection: Redis, rec: steps.Recording, seconds: float) -> bool:
    """Record an outcome alone (a worker stopping), trying until ``seconds`` have passed;
    whether it was recorded."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            steps.record(connection, rec)
            return True
        except LOST_CONNECTION:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


def give_back(connection: Redis, workers: Sequence[str], queues: Sequence[str],
              label: str = "") -> list[str]:
    """Put every job started under these worker names back at the front of its queue (no
    loss counted): the job a forced shutdown interrupted, and one a take whose reply was lost
    left behind as the worker was stopping. Returns their ids; when Redis cannot be reached
    their leases lapse and any worker takes them. ``label`` names the leaver in the log."""
    label = label or ", ".join(workers)
    given: list[str] = []
    try:
        for queue in queues:
            given += steps.give_back(connection, queue, *workers).job_ids
    except LOST_CONNECTION:
        logger.error("worker %s: could not give back its jobs; their leases will lapse", label)
    for job_id in given:
        logger.warning("worker %s: job %s is back on its queue", label, job_id)
    return given


def register_death(connection: Redis, *worker_names: str) -> None:
    """Take the records down (those not in the workers set are simply deleted)."""
    try:
        pipe = connection.pipeline(transaction=False)
        pipe.delete(*(keys.worker(name) for name in worker_names))
        pipe.zrem(keys.workers(), *worker_names)
        pipe.execute()
    except LOST_CONNECTION:
        pass  # the records expire by themselves
