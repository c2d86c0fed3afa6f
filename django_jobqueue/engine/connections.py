"""The default-connection stack (RQ's ``push_connection`` / ``Connection``) and client checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis import Redis

from .exceptions import NoRedisConnectionException

_stack: list[Redis] = []
_lock = threading.Lock()


def push_connection(connection: Redis) -> None:
    """Make ``connection`` the default for every call that is given none (process-wide)."""
    check_client(connection)
    with _lock:
        _stack.append(connection)


def pop_connection() -> Redis:
    with _lock:
        if not _stack:
            raise NoRedisConnectionException("pop_connection() called with no connection pushed")
        return _stack.pop()


def get_current_connection() -> Redis | None:
    return _stack[-1] if _stack else None


def use_connection(connection: Redis | None = None) -> None:
    """Replace the whole stack with one connection (``Redis()`` when none is given)."""
    with _lock:
        _stack.clear()
    push_connection(connection if connection is not None else Redis())


@contextmanager
def Connection(connection: Redis | None = None) -> Iterator[Redis]:  # noqa: N802 (RQ's name)
    """``with Connection(redis):`` pushes a default connection for the block."""
    connection = connection if connection is not None else Redis()
    push_connection(connection)
    try:
        yield connection
    finally:
        with _lock:
            if connection in _stack:
                _stack.reverse()
                _stack.remove(connection)
                _stack.reverse()


def resolve_connection(connection: Redis | None = None) -> Redis:
    if connection is not None:
        return connection
    current = get_current_connection()
    if current is None:
        raise NoRedisConnectionException(
            "No Redis connection: pass connection=... or call push_connection(Redis(...)) first"
        )
    return current


def check_client(connection: Any) -> None:
    """Job payloads are binary: a client that decodes replies to str cannot read them."""
    get_kwargs = getattr(connection, "get_connection_kwargs", None)
    if get_kwargs is not None and get_kwargs().get("decode_responses"):
        raise ValueError(
            "django-jobqueue needs a Redis client with decode_responses=False "
            "(job payloads are binary)"
        )


def reset_connection_stack() -> None:
    """Empty the stack (for tests and forked processes)."""
    with _lock:
        _stack.clear()
