"""Retry policies: which failures a job retries, and how long it waits before each retry.

The worker decides (:func:`decide`), where the live exception and the job's fields are at
hand; ``fail.lua`` then takes one of the job's retries atomically and schedules it with the
delay it is given. A job may also ask for a retry itself: it raises (or returns)
:class:`RetryLater`, or returns a :class:`Retry` as RQ 2.1 allows.
"""

from __future__ import annotations

import builtins
import logging
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .utils import import_attribute

logger = logging.getLogger("django_jobqueue.worker")

#: the cap of an exponential backoff that gives no ``max_interval`` (an hour)
DEFAULT_MAX_INTERVAL = 3600


def _number(value: Any, what: str) -> float | int:
    """``value`` if it is a finite int or float; ``what`` names it in the error."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return value


def exception_name(kind: Any) -> str:
    """The dotted name a worker imports an exception class by (``on=`` stores these)."""
    if isinstance(kind, str):
        if "." not in kind and isinstance(getattr(builtins, kind, None), type):
            kind = f"builtins.{kind}"  # "TimeoutError" for builtins.TimeoutError
        try:
            found = import_attribute(kind)
        except Exception as exc:  # an import error of any kind
            raise ValueError(f"Retry on: cannot import {kind!r}: {type(exc).__name__}: "
                             f"{exc}") from None
        if not (isinstance(found, type) and issubclass(found, BaseException)):
            raise TypeError(f"Retry on: {kind!r} is not an exception class")
        return kind
    if not (isinstance(kind, type) and issubclass(kind, BaseException)):
        raise TypeError(f"Retry on takes exception classes or their dotted names, not {kind!r}")
    qualname = kind.__qualname__
    if "<locals>" in qualname:
        raise TypeError(f"Retry on: {qualname} cannot be imported by a worker: define it at "
                        "module level")
    return f"{kind.__module__}.{qualname}"


class Retry:
    """``Retry(max=3, interval=[10, 30, 60])``: retry a failed job up to ``max`` times.

    ``interval``: seconds before each retry (a list: one per retry, the last one repeats).
    ``backoff``: exponential backoff, ``interval * backoff ** n`` before retry n (n = 0 for
    the first), capped at ``max_interval`` (default an hour). ``jitter``: wait a uniform
    random time between 0 and that ("full jitter"; default on with ``backoff``, off
    without). ``on``: retry only failures raising one of these exception classes (or their
    dotted names); any other fails at once. Returned by a job, a Retry asks for a retry
    (see :class:`RetryLater`).
    """

    def __init__(self, max: int, interval: float | Sequence[float] = 0,
                 backoff: float | None = None, max_interval: float | None = None,
                 jitter: bool | None = None,
                 on: type[BaseException] | str | Iterable[type[BaseException] | str] | None
                 = None) -> None:
        if not isinstance(max, int) or isinstance(max, bool) or max < 1:
            raise ValueError(f"Retry max must be a positive int, not {max!r}")
        if isinstance(interval, str) or not isinstance(interval, int | float | Sequence):
            raise TypeError(f"Retry interval must be seconds or a list of seconds, not "
                            f"{interval!r}")
        intervals = list(interval) if isinstance(interval, Sequence) else [interval]
        if not intervals:
            raise ValueError("Retry interval must not be an empty list")
        for item in intervals:
            if _number(item, "Retry interval") < 0:
                raise ValueError(f"Retry interval must be seconds >= 0, not {interval!r}")
        if backoff is not None:
            if _number(backoff, "Retry backoff") < 1:
                raise ValueError(f"Retry backoff must be a number >= 1, not {backoff!r}")
            if len(intervals) > 1:
                raise ValueError("Retry interval must be one number (the first delay) when "
                                 "backoff is given, not a list")
        if max_interval is not None and _number(max_interval, "Retry max_interval") <= 0:
            raise ValueError(f"Retry max_interval must be a number > 0, not {max_interval!r}")
        if jitter is not None and not isinstance(jitter, bool):
            raise TypeError(f"Retry jitter must be True, False or None, not {jitter!r}")
        if on is None:
            names: tuple[str, ...] = ()
        elif isinstance(on, str | type):
            names = (exception_name(on),)
        elif isinstance(on, Iterable):
            names = tuple(exception_name(kind) for kind in on)
            if not names:
                raise ValueError("Retry on must name at least one exception class (or be "
                                 "None: every exception)")
        else:
            raise TypeError(f"Retry on must be a tuple of exception classes, not {on!r}")
        self.max = max
        self.intervals = intervals
        self.backoff = backoff
        self.max_interval = (max_interval if max_interval is not None or backoff is None
                             else DEFAULT_MAX_INTERVAL)
        self.jitter = jitter if jitter is not None else backoff is not None
        #: dotted names of the exception classes retried (empty: every exception)
        self.on = names

    @classmethod
    def stored(cls, max: int, intervals: Sequence[float], backoff: float | None,
               max_interval: float | None, jitter: bool, on: Sequence[str]) -> Retry:
        """The policy a job hash holds, as stored (no checks, no imports: a name of
        ``on`` is resolved when a failure is matched against it)."""
        policy = cls.__new__(cls)
        policy.max, policy.intervals = max, list(intervals) or [0]
        policy.backoff, policy.max_interval = backoff, max_interval
        policy.jitter, policy.on = jitter, tuple(on)
        return policy

    def __repr__(self) -> str:
        interval = self.intervals[0] if len(self.intervals) == 1 else self.intervals
        return (f"Retry(max={self.max}, interval={interval!r}, backoff={self.backoff!r}, "
                f"max_interval={self.max_interval!r}, jitter={self.jitter!r}, "
                f"on={self.on!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Retry) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  (mutable, compared by value)

    def base_delay(self, n: int) -> float:
        """Seconds before retry ``n`` (0 for the first) without jitter."""
        n = max(0, n)
        if self.backoff is None:
            delay = float(self.intervals[min(n, len(self.intervals) - 1)])
        else:
            try:
                delay = float(self.intervals[0]) * float(self.backoff) ** n
            except OverflowError:
                delay = math.inf
        if self.max_interval is not None:
            delay = min(delay, float(self.max_interval))
        return delay if math.isfinite(delay) else 0.0

    def delay_for(self, n: int, rng: random.Random | Any = random) -> float:
        """Seconds to wait before retry ``n`` (0 for the first): the base delay, or with
        jitter a uniform random time between 0 and it."""
        delay = self.base_delay(n)
        return rng.uniform(0, delay) if self.jitter and delay > 0 else delay

    def matches(self, exc: BaseException | None, job_id: str = "") -> bool:
        """Whether this failure is one the policy retries (``on``; isinstance on the live
        exception). A name this worker cannot import matches nothing, and says so."""
        if not self.on:
            return True
        for name in self.on:
            kind = resolve_exception(name, job_id)
            if kind is not None and exc is not None and isinstance(exc, kind):
                return True
        return False


_resolved: dict[str, type[BaseException] | None] = {}


def resolve_exception(name: str, job_id: str = "") -> type[BaseException] | None:
    """The exception class of a stored ``on`` name, or None (logged once per process)."""
    if name in _resolved:
        return _resolved[name]
    try:
        found = import_attribute(name)
        if not (isinstance(found, type) and issubclass(found, BaseException)):
            raise TypeError("not an exception class")
    except Exception as exc:  # an import error of any kind must not stop the worker
        logger.warning("job %s: its Retry(on=...) names %r, which this worker cannot use "
                       "(%s: %s): it matches no failure", job_id, name, type(exc).__name__,
                       exc)
        found = None
    _resolved[name] = found
    return found


class RetryLater(Exception):  # noqa: N818 (a request, not an error)
    """Raised (or returned) by a job to be run again later: after ``delay`` seconds, or
    with None the delay its Retry gives this retry. A request uses one of the job's
    retries (its ``Retry(max=...)``), whatever ``on`` says; a job with none left (or
    enqueued without ``retry=``) fails, saying so."""

    def __init__(self, delay: float | None = None) -> None:
        if delay is not None and _number(delay, "RetryLater delay") < 0:
            raise ValueError(f"RetryLater delay must be seconds >= 0, not {delay!r}")
        super().__init__(delay)
        self.delay = delay

    def __repr__(self) -> str:
        return f"RetryLater(delay={self.delay!r})"

    __str__ = __repr__


# --- how a job stores its Retry ---------------------------------------------------------------

#: the job hash fields (and Job attributes, of the same names) that hold its Retry and what
#: is left of it; the last four are written only when set, so that a fixed list is stored
#: as the previous version stored it
FIELDS = ("retries_left", "retry_max", "retry_intervals", "retry_backoff",
          "retry_max_interval", "retry_jitter", "retry_on")


def attributes(retry: Retry) -> dict[str, Any]:
    """The Job attributes that give a job ``retry`` (``Job.set_retry``)."""
    if not isinstance(retry, Retry):
        raise TypeError(f"retry must be a Retry(...), not {retry!r}")
    return dict(zip(FIELDS, (retry.max, retry.max, retry.intervals, retry.backoff,
                             retry.max_interval, retry.jitter, retry.on), strict=True))


def stored_fields(job: Any) -> list[Any]:
    """Field/value pairs of a job's Retry for its hash (``Job.stored_fields``)."""
    values = (job.retries_left, job.retry_max, ",".join(map(str, job.retry_intervals)),
              job.retry_backoff, job.retry_max_interval, "1" if job.retry_jitter else None,
              ",".join(job.retry_on) or None)
    return [x for name, value in zip(FIELDS, values, strict=True) if value is not None
            for x in (name, value)]


def stored_policy(values: Mapping[str, Any]) -> Retry | None:
    """The Retry of a job's decoded fields (``fields.decode_job``) or attributes, or None."""
    if not values.get("retry_max"):
        return None
    return Retry.stored(values["retry_max"], values.get("retry_intervals") or [0],
                        values.get("retry_backoff"), values.get("retry_max_interval"),
                        bool(values.get("retry_jitter")), values.get("retry_on") or ())


#: what a job raises or returns to ask for a retry
Request = RetryLater | Retry


def request_of(value: Any) -> Request | None:
    """The retry request a job's return value (or exception) makes, if it makes one: a
    RetryLater, or a Retry returned as in RQ 2.1 (its delays, the job's retries)."""
    return value if isinstance(value, RetryLater | Retry) else None


@dataclass(frozen=True)
class Decision:
    """What becomes of a failed run: retried after ``delay`` seconds (0: queued again at
    once), or not, and why not (for the log and the error kept)."""

    retry: bool
    delay: float = 0.0
    why_not: str = ""


NO_RETRY = Decision(False)


def decide(policy: Retry | None, retries_left: int | None, exc: BaseException | None,
           request: Request | None = None, job_id: str = "",
           rng: random.Random | Any = random) -> Decision:
    """Whether a failed run is retried, and after how long. ``retries_left`` and the
    policy are the job's as it was taken; ``fail.lua`` checks the count again atomically."""
    left = retries_left or 0
    if request is not None:
        if policy is None:
            return Decision(False, why_not=f"the job asked to be retried ({request!r}), but "
                                           "it was enqueued without retry=Retry(max=...)")
        if left <= 0:
            return Decision(False, why_not=f"the job asked to be retried ({request!r}), but "
                                           f"it has no retries left (Retry max={policy.max})")
        n = policy.max - left
        if isinstance(request, Retry):  # RQ 2.1's `return Retry(...)`: its delays
            return Decision(True, request.delay_for(n, rng))
        if request.delay is not None:
            return Decision(True, float(request.delay))
        return Decision(True, policy.delay_for(n, rng))
    if policy is None or left <= 0:
        return NO_RETRY
    if not policy.matches(exc, job_id):
        kind = type(exc).__name__ if exc is not None else "this failure"
        return Decision(False, why_not=f"{kind} is not one of the exceptions its Retry "
                                       f"retries (on={', '.join(policy.on)})")
    return Decision(True, policy.delay_for(policy.max - left, rng))
