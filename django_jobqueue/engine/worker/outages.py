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

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

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
