"""Riding out a lost connection: a worker's step is sent again, as it is, until Redis
answers. That is safe because every step is written to be repeated (``_take.lua``): a take
whose reply was lost hands the same job over again, an outcome is recorded once per attempt.
So a reconnect never makes a job run twice; only a lapsed lease (a worker that died, or one
cut off for longer than its lease) does.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import steps

logger = logging.getLogger("django_jobqueue.worker")

LOST_CONNECTION = (RedisConnectionError, RedisTimeoutError, OSError)
T = TypeVar("T")


class GaveUp(Exception):
    """The worker was asked to stop while Redis could not be reached."""


class Reconnector:
    """Sends a call again, with jittered exponential backoff, while the connection is lost;
    gives up (raising :class:`GaveUp`) once ``give_up()`` says so."""

    def __init__(self, worker_name: str, max_backoff: float,
                 give_up: Callable[[], bool]) -> None:
        self.worker_name = worker_name
        self.max_backoff = max_backoff
        self.give_up = give_up

    def call(self, call: Callable[[], T]) -> T:
        delay = 0.05
        lost = False
        while True:
            try:
                result = call()
            except LOST_CONNECTION as exc:
                if self.give_up():
                    raise GaveUp() from exc
                if not lost:
                    logger.warning("worker %s: Redis connection lost (%s); reconnecting",
                                   self.worker_name, exc)
                lost = True
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.max_backoff)
                continue
            if lost:
                logger.warning("worker %s: Redis connection back", self.worker_name)
            return result


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


def give_back(connection: Redis, worker_name: str, job_id: str, queue: str) -> None:
    """A forced shutdown interrupted the job: put it back at the front of its queue (no
    loss counted). If Redis cannot be reached its lease lapses and any worker takes it."""
    try:
        steps.give_back(connection, queue, worker_name)
        logger.warning("worker %s: stopped job %s; it is back on %s", worker_name, job_id,
                       queue)
    except LOST_CONNECTION:
        logger.error("worker %s: could not give back job %s; its lease will lapse",
                     worker_name, job_id)


def register_death(connection: Redis, key: str, workers_key: str, worker_name: str) -> None:
    try:
        pipe = connection.pipeline(transaction=False)
        pipe.delete(key)
        pipe.zrem(workers_key, worker_name)
        pipe.execute()
    except LOST_CONNECTION:
        pass  # the record expires by itself
