"""Suspend and resume every worker of a Redis (``manage.py jobqueue suspend``): workers finish
the job in hand, then take no new job until resumed or until the suspension expires."""

from __future__ import annotations

from redis import Redis

from . import keys


def suspend(connection: Redis, duration: float | None = None) -> None:
    """Workers notice within their maintenance interval (1 s by default)."""
    if duration:
        connection.set(keys.suspended(), 1, px=int(duration * 1000))
    else:
        connection.set(keys.suspended(), 1)


def resume(connection: Redis) -> None:
    connection.delete(keys.suspended())


def is_suspended(connection: Redis) -> bool:
    return bool(connection.exists(keys.suspended()))
