"""Unique jobs: the checks of ``unique``/``unique_for``/``unique_key`` and the uniqueness key
of a call.

A unique job holds the Redis key ``keys.unique(token)`` (its value: the job's id) from its
enqueue until it ends, and ``unique_for`` seconds more after a success. enqueue.lua reads
the key in the same atomic step as the enqueue: while its holder is queued, scheduled,
deferred or running (or finished less than its ``unique_for`` ago), an enqueue of the same
token adds nothing and returns the holder. The scripts that end a job release the key
(finish.lua lets it expire after ``unique_for``; fail.lua's final failure, recover.lua's,
cancel.lua, delete.lua and empty.lua delete it), each only while it still names that job.

The token is the caller's ``unique_key`` as given (global to the key prefix: jobs of
different functions or queues may share one), or ``sha256:`` + the hex SHA-256 of the queue
name, the function's name and the call serialized with the job's serializer: the instance
of a bound method, the positional arguments, and the keyword arguments sorted by name. Two
calls are the same when those bytes are equal (README, "Unique jobs", says what that means).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from .exceptions import SerializationError
from .utils import parse_duration

#: the start of a computed token; a caller's ``unique_key`` may not start with it
DIGEST_PREFIX = "sha256:"
#: the longest ``unique_key`` a caller may give (characters)
MAX_KEY_LENGTH = 256
#: the longest ``unique_for`` (seconds: what Redis's EXPIRE takes comfortably)
MAX_UNIQUE_FOR = 2**31 - 1


def check_options(unique: Any, unique_for: Any, unique_key: Any
                  ) -> tuple[bool, int | None, str | None]:
    """``(unique, unique_for, unique_key)`` checked; ``unique_for`` or ``unique_key`` given
    makes the job unique (``unique=None`` reads as False). Bad values raise
    TypeError/ValueError naming the argument."""
    if unique is None:
        unique = False
    if not isinstance(unique, bool):
        raise TypeError(f"unique must be True or False, not {unique!r}")
    seconds = None
    if unique_for is not None:
        if isinstance(unique_for, float) and not math.isfinite(unique_for):
            raise ValueError(f"unique_for must be a number of seconds, not {unique_for!r}")
        seconds = parse_duration(unique_for, "unique_for")
        if not 0 <= seconds <= MAX_UNIQUE_FOR:
            raise ValueError(f"unique_for must be from 0 to {MAX_UNIQUE_FOR} seconds, "
                             f"not {unique_for!r}")
    if unique_key is not None:
        if not isinstance(unique_key, str):
            raise TypeError(f"unique_key must be a str, not {type(unique_key).__name__}")
        if not 1 <= len(unique_key) <= MAX_KEY_LENGTH:
            raise ValueError(f"unique_key must be 1 to {MAX_KEY_LENGTH} characters, not "
                             f"{len(unique_key)}")
        if unique_key.startswith(DIGEST_PREFIX):
            raise ValueError(f"unique_key must not start with {DIGEST_PREFIX!r} (the computed "
                             "keys do): pick another key")
    unique = unique or seconds is not None or unique_key is not None
    return unique, (seconds or 0) if unique else None, unique_key


def configure(job: Any, unique: Any, unique_for: Any, unique_key: Any) -> None:
    """Make a job being built unique, as :func:`check_options` says."""
    job._unique, job.unique_for, job.unique_key = check_options(unique, unique_for, unique_key)


def call_digest(job: Any, queue_name: str) -> str:
    """The computed token of the job's call on that queue (see the module's docstring)."""
    call = (job.instance, tuple(job.args), sorted(job.kwargs.items()))  # a fetched job loads them
    try:
        payload = job.serializer.dumps(call)
    except Exception as exc:  # the job's call data serialized, so this is rare
        raise SerializationError(f"Cannot compute the uniqueness key of {job.func_name}: "
                                 f"{exc}; give unique_key= instead") from exc
    digest = hashlib.sha256(b"%s\0%s\0%s" % (queue_name.encode(), job.func_name.encode(),
                                            payload))
    return DIGEST_PREFIX + digest.hexdigest()


def settle_token(job: Any, queue_name: str, fresh: bool = False) -> str | None:
    """The job's token for an enqueue onto ``queue_name`` (None for a job that is not
    unique), kept in ``job.unique_key``. A computed one is computed anew for each enqueue,
    except for a job frozen for a later enqueue (``Job.freeze`` computes it with ``fresh``,
    from the arguments as they were then)."""
    token = job.unique_key
    if token is None and not job._unique:
        return None
    if token is None or (token.startswith(DIGEST_PREFIX)
                         and (fresh or job._frozen_fields is None)):
        token = job.unique_key = call_digest(job, queue_name)
    return token


def packed_fields(job: Any, queue_name: str) -> list[Any]:
    """The job hash's uniqueness fields, first in a packed enqueue job (enqueue.lua reads
    them there when the job's flags say 'u'); empty for a job that is not unique."""
    token = settle_token(job, queue_name)
    if token is None:
        return []
    return ["unique_key", token, "unique_for", job.unique_for or 0]  # 0: while active only
