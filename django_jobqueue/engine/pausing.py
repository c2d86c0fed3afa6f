"""Pause and resume one queue (``Queue.pause()``, ``manage.py jobqueue pause QUEUE``).

A paused queue keeps accepting jobs (enqueue, scheduling and recovery put them on it as
usual) and no worker takes from it: the take step (``take_next`` in scripts/_take.lua)
passes over the queues named in the ``paused`` set, so a pause holds from the moment it
returns, and a worker serving several queues goes on with the others. Resuming wakes a
worker blocked on the queue at once. Beside suspension.py, which stops every worker of a
Redis instead.

The functions take a queue name that :class:`~.queue.Queue` has accepted (the Queue
methods are the public way in).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis import Redis

from . import keys, steps
from .utils import decode_text


def pause(connection: Redis, queue_name: str) -> bool:
    """Whether the queue was running (False: it was paused already)."""
    return bool(connection.sadd(keys.paused(), queue_name))


def resume(connection: Redis, queue_name: str) -> bool:
    """Whether the queue was paused (False: it was running already)."""
    return steps.resume_queue(connection, queue_name)


def is_paused(connection: Redis, queue_name: str) -> bool:
    return bool(connection.sismember(keys.paused(), queue_name))


def paused_queues(connection: Redis) -> set[str]:
    """Names of every paused queue of this Redis (configured or not)."""
    return {decode_text(name) for name in connection.smembers(keys.paused())}


def jobs_to_take(connection: Redis, queue_names: Sequence[str]) -> int:
    """How many jobs wait in those of these queues that are not paused, in one round trip:
    what a ``--burst`` pool waits for (a paused queue counts as empty). A corrupt
    ``paused`` key pauses nothing, as in the take step."""
    pipe = connection.pipeline(transaction=False)
    pipe.smismember(keys.paused(), list(queue_names))
    for name in queue_names:
        pipe.zcard(keys.queue(name))
    paused, *counts = pipe.execute(raise_on_error=False)
    for reply in counts:
        if isinstance(reply, Exception):
            raise reply
    if isinstance(paused, Exception):
        paused = [0] * len(counts)
    return sum(count for count, stopped in zip(counts, paused, strict=True) if not stopped)
