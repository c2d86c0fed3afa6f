"""Rate limits and concurrency limits shared by every worker (held in Redis).

A job declares them at enqueue (``rate_limit="100/m"``, ``concurrency_limit=5``,
``limit_key="stripe-api"``, or RQ's ``rate_limit=RateLimit(key=..., concurrency=...)``), or
gets its queue's (``Queue(default_limit=...)``, the Django ``RATE_LIMIT`` /
``CONCURRENCY_LIMIT`` queue options). Jobs with the same key share one quota, so several
functions can share an API's; without a key, the quota is the function's.

The check is made by the worker's take (``_limits.lua``), in the same step: a job over its
limit is not started, counts no attempt and no failure, and waits in its queue's scheduled
registry until a start is allowed again, while the take goes on with the queue's next job.
Rate limits are a sliding window log: at most N starts in any window of the period (a token
bucket or fixed window lets up to 2N through across a window's edge).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from redis import Redis

from . import keys
from .utils import decode, decode_text

#: job hash fields (fields.py decodes them)
FIELDS = ("limit_key", "limit_rate", "limit_concurrency")

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
          "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]*)\s*", re.IGNORECASE)
_KEY = re.compile(r"[A-Za-z0-9_.:@/-]{1,200}")


def parse_rate(value: Any) -> tuple[int, float]:
    """``"100/m"``, ``"20/s"``, ``"5/10s"``, ``"1000/hour"`` or ``(starts, seconds)`` ->
    (starts, seconds); anything else raises ValueError saying what is accepted."""
    if isinstance(value, tuple | list) and len(value) == 2:
        starts, seconds = value
    elif isinstance(value, str) and (match := _RATE.fullmatch(value)) and (
            match.group(2) or match.group(3)):
        word = match.group(3).lower() or "s"
        unit = _UNITS.get(word, _UNITS.get(word.rstrip("s")))
        if unit is None:
            raise ValueError(f"rate_limit {value!r}: unknown unit {match.group(3)!r} "
                             "(use s, m, h or d)")
        starts, seconds = int(match.group(1)), float(match.group(2) or 1) * unit
    else:
        raise ValueError(f"rate_limit must look like '100/m', '20/s' or '5/10s' (starts per "
                         f"period), not {value!r}")
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
        raise ValueError(f"rate_limit {value!r}: the number of starts must be a whole number "
                         "of at least 1")
    if (isinstance(seconds, bool) or not isinstance(seconds, int | float)
            or not math.isfinite(seconds) or not 0 < seconds <= 366 * 86400):
        raise ValueError(f"rate_limit {value!r}: the period must be more than 0 seconds and "
                         "at most a year")
    return starts, float(seconds)


def _concurrency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"concurrency_limit must be a whole number of at least 1, not {value!r}")
    return value


def format_rate(starts: int, seconds: float) -> str:
    """The stored form: ``<starts>/<seconds>``."""
    return f"{starts}/{seconds:g}"


@dataclass(frozen=True)
class RateLimit:
    """A limit shared by the jobs with the same ``key``: at most ``rate`` starts per period
    and at most ``concurrency`` running at once (either may be None). RQ's
    ``RateLimit(key=..., concurrency=...)`` is this with no rate."""

    key: str | None = None
    concurrency: int | None = None
    rate: Any = None

    def __post_init__(self) -> None:
        if self.key is not None and (not isinstance(self.key, str)
                                     or not _KEY.fullmatch(self.key)):
            raise ValueError(f"limit_key must be 1 to 200 of [A-Za-z0-9_.:@/-], not {self.key!r}")
        if self.concurrency is not None:
            _concurrency(self.concurrency)
        if self.rate is not None:
            object.__setattr__(self, "rate", parse_rate(self.rate))
        if self.rate is None and self.concurrency is None:
            raise ValueError("a limit needs rate_limit, concurrency_limit or both")

    def describe(self) -> str:
        """``20 per 1 s, 2 at once``: for the admin and errors."""
        parts = []
        if self.rate:
            parts.append(f"{self.rate[0]} per {self.rate[1]:g} s")
        if self.concurrency:
            parts.append(f"{self.concurrency} at once")
        return ", ".join(parts)


def resolve(rate_limit: Any = None, concurrency_limit: Any = None,
            limit_key: str | None = None) -> RateLimit | None:
    """The limit that enqueue options declare (None: none). ``rate_limit`` may be a
    RateLimit; the other two options then refine it."""
    if rate_limit is None and concurrency_limit is None:
        if limit_key is not None:
            raise ValueError("limit_key needs rate_limit or concurrency_limit")
        return None
    if isinstance(rate_limit, RateLimit):
        return RateLimit(key=limit_key or rate_limit.key,
                         concurrency=concurrency_limit or rate_limit.concurrency,
                         rate=rate_limit.rate)
    return RateLimit(key=limit_key, concurrency=concurrency_limit, rate=rate_limit)


def configure(job: Any, limit: RateLimit | None) -> None:
    """Give a job (before its enqueue) a limit; without a key, its function's name."""
    if limit is None:
        return
    job.limit_key = limit.key or job.func_name
    job.limit_rate = format_rate(*limit.rate) if limit.rate else None
    job.limit_concurrency = limit.concurrency


def stored_fields(job: Any) -> list[Any]:
    if not job.limit_key:
        return []
    fields: list[Any] = ["limit_key", job.limit_key]
    if job.limit_rate:
        fields += ["limit_rate", job.limit_rate]
    if job.limit_concurrency:
        fields += ["limit_concurrency", job.limit_concurrency]
    return fields


# --- reading (the admin, metrics, the command) ---------------------------------------------


@dataclass(frozen=True)
class LimitUse:
    """One limit key as Redis holds it now."""

    key: str
    #: the definition the last job enqueued with this key declared
    limit: RateLimit | None
    #: starts in the current window (rate) and slots held (concurrency)
    starts_in_window: int
    running: int
    #: jobs waiting for the limit (scheduled until it allows them, or back on their queue)
    waiting: int


def _definition(raw: bytes | str) -> RateLimit | None:
    """The ``<rate>;<concurrency>`` the enqueue script stores; None when corrupt."""
    rate, _, slots = decode_text(raw).partition(";")
    try:
        starts, seconds = (rate.split("/") if rate else (None, None))
        return RateLimit(concurrency=int(slots) if slots else None,
                         rate=(int(starts), float(seconds)) if rate else None)
    except (ValueError, TypeError):
        return None


def all_limits(connection: Redis) -> list[LimitUse]:
    """Every limit key ever enqueued (until removed with :func:`forget`), with its use:
    three round trips."""
    definitions = {decode_text(k): v for k, v in connection.hgetall(keys.limits()).items()}
    names = sorted(definitions)  # a key that is not UTF-8 shows with U+FFFD (and no use)
    seconds, micros = connection.time()  # the window is measured by Redis's clock
    now = seconds + micros / 1e6
    pipe = connection.pipeline(transaction=False)
    for name in names:
        limit = _definition(definitions[name])
        period = limit.rate[1] if limit and limit.rate else 0
        pipe.zcount(keys.limit_starts(name), f"({now - period}", "+inf")
        pipe.scard(keys.limit_running(name))
        pipe.zcard(keys.limit_waiting(name))
    replies = pipe.execute(raise_on_error=False)
    out = []
    for n, name in enumerate(names):
        counts = [r if isinstance(r, int) else 0 for r in replies[3 * n:3 * n + 3]]
        out.append(LimitUse(name, _definition(definitions[name]), *counts))
    return out


def waiting_ids(connection: Redis, key: str, offset: int = 0, length: int = 50) -> list[str]:
    """Ids of the jobs waiting on limit ``key``, the next to be tried first."""
    return [decode(i) for i in connection.zrange(keys.limit_waiting(key), offset,
                                                 offset + length - 1)]


def forget(connection: Redis, key: str) -> None:
    """Drop a limit key's record and counters (jobs enqueued with it keep their limit)."""
    connection.delete(keys.limit_starts(key), keys.limit_running(key),
                      keys.limit_waiting(key))
    connection.hdel(keys.limits(), key)
