"""A periodic job's definition: what to run, when, and what to do with missed or
overlapping ticks. Workers given a list of these enqueue each tick once between them
(runner.py)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from redis import Redis

from ..calls import Callback, callable_name, split_callable
from ..exceptions import SerializationError
from ..job import Job
from ..queue import QUEUE_NAME_PATTERN
from ..utils import parse_duration
from . import clock


class ScheduleError(ValueError):
    """A CRON or EVERY that cannot be used (the check id E041 in Django settings)."""


NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
MISSED = ("once", "skip")
#: job options a periodic job may set (passed to Job.create)
JOB_OPTIONS = ("timeout", "result_ttl", "failure_ttl", "ttl", "priority", "description",
               "meta", "retry", "on_success", "on_failure", "on_stopped",
               "on_worker_lost")


class PeriodicJob:
    """``PeriodicJob("nightly-report", "reports.tasks.build", cron="0 3 * * *",
    timezone="Europe/Paris")`` or ``PeriodicJob("poll-feeds", poll, every=30)``.

    ``missed``: what a worker that finds ticks missed (no worker ran at the time) does:
    ``"once"`` enqueues one catch-up run, ``"skip"`` none. ``overlap``: enqueue a tick even
    while the previous tick's job is still queued or running (default: skip that tick).
    Other keywords are job options (``timeout``, ``result_ttl``, ``priority``, ...).
    """

    def __init__(self, name: str, func: Any, *, cron: str | None = None,
                 every: Any = None, timezone: str = "UTC", queue: str = "default",
                 args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
                 enabled: bool = True, missed: str = "once", overlap: bool = False,
                 **options: Any) -> None:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"Invalid periodic job name {name!r}: use 1 to 128 of "
                             "[A-Za-z0-9_.:-]")
        self.name = name
        func_name, instance = split_callable(func)
        if instance is not None:
            raise TypeError(f"periodic job {name!r}: FUNC must be a module-level function "
                            "or a dotted path, not a bound method or callable instance")
        self.func_name = func_name
        if (cron is None) == (every is None):
            raise ScheduleError(f"periodic job {name!r}: give exactly one of cron= and every=")
        try:
            self.cron = clock.check_cron(cron) if cron is not None else None
        except ValueError as exc:
            raise ScheduleError(f"periodic job {name!r}: {exc}") from None
        self.every: int | None = None
        if every is not None:
            try:
                seconds = parse_duration(every, "every")
            except ValueError as exc:
                raise ScheduleError(f"periodic job {name!r}: {exc}") from None
            if seconds is None or seconds < 1:
                raise ScheduleError(f"periodic job {name!r}: every must be at least 1 "
                                    f"second, not {every!r}")
            self.every = seconds
        self.timezone = timezone
        self.zone = clock.zone(timezone)
        if not isinstance(queue, str) or not QUEUE_NAME_PATTERN.fullmatch(queue):
            raise ValueError(f"periodic job {name!r}: invalid queue name {queue!r}")
        self.queue = queue
        if not isinstance(args, list | tuple):
            raise TypeError(f"periodic job {name!r}: args must be a list or tuple")
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise TypeError(f"periodic job {name!r}: kwargs must be a dict")
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        if not isinstance(enabled, bool):
            raise TypeError(f"periodic job {name!r}: enabled must be True or False")
        self.enabled = enabled
        if missed not in MISSED:
            raise ValueError(f"periodic job {name!r}: missed must be one of {MISSED}, "
                             f"not {missed!r}")
        self.missed = missed
        if not isinstance(overlap, bool):
            raise TypeError(f"periodic job {name!r}: overlap must be True or False")
        self.overlap = overlap
        unknown = sorted(set(options) - set(JOB_OPTIONS))
        if unknown:
            raise TypeError(f"periodic job {name!r}: unknown option(s) {', '.join(unknown)}")
        self.options = dict(options)
        self._check_job()
        try:
            self.next_tick(time.time())
        except (ValueError, KeyError) as exc:  # croniter's CroniterBadDateError is a KeyError
            raise ScheduleError(f"periodic job {name!r}: {self.cron!r} never comes due "
                                f"({type(exc).__name__})") from None

    def _check_job(self) -> None:
        """Build the job a tick would enqueue (with the default serializer), so that a bad
        option or argument fails here and not at every tick."""
        try:
            probe = Job.create(self.func_name, args=self.args, kwargs=self.kwargs,
                               connection=_probe_client(), **self.options)
            probe.stored_fields()
        except (TypeError, ValueError, SerializationError) as exc:
            raise type(exc)(f"periodic job {self.name!r}: {exc}") from None

    def __repr__(self) -> str:
        when = f"cron={self.cron!r}" if self.cron else f"every={self.every}"
        return f"PeriodicJob({self.name!r}, {self.func_name!r}, {when})"

    # --- time ------------------------------------------------------------------------

    def next_tick(self, after: float) -> int:
        """The first tick strictly after ``after`` (epoch seconds)."""
        if self.every is not None:
            return clock.next_every(self.every, after)
        return clock.next_cron(self.cron, self.zone, after)  # type: ignore[arg-type]

    def last_tick(self, upto: float) -> int | None:
        """The last tick at or before ``upto``."""
        if self.every is not None:
            return clock.last_every(self.every, upto)
        return clock.last_cron(self.cron, self.zone, upto)  # type: ignore[arg-type]

    def describe(self) -> str:
        """The schedule in words ("Every 30 seconds", "At 03:00")."""
        if self.every is not None:
            return clock.describe_every(self.every)
        return clock.describe_cron(self.cron)  # type: ignore[arg-type]

    # --- what is stored ----------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What operators see of the definition (kept in Redis beside its schedule)."""
        return {"func": self.func_name, "cron": self.cron, "every": self.every,
                "timezone": self.timezone, "queue": self.queue, "missed": self.missed,
                "overlap": self.overlap, "schedule": self.describe(),
                "enabled": self.enabled}

    def digest(self) -> str:
        """Changes whenever the definition does, and only then (the same in every process):
        a worker starting with a changed definition takes the schedule over."""
        text = json.dumps([self.summary(), _stable(self.args), _stable(self.kwargs),
                           _stable(self.options)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def tick_job_id(self, tick: int) -> str:
        """One id per tick: a tick that was enqueued once cannot be enqueued again."""
        slug = re.sub(r"[^A-Za-z0-9_-]", "_", self.name)[:64]
        digest = hashlib.sha1(self.name.encode()).hexdigest()[:8]
        return f"periodic-{slug}-{digest}-{tick}"


_probe: Redis | None = None


def _probe_client() -> Redis:
    """A client object that never connects: Job.create wants one to build a job."""
    global _probe
    if _probe is None:
        _probe = Redis()
    return _probe


def _stable(value: Any) -> Any:
    """``value`` as JSON-able data that is the same in every process (no memory addresses,
    no hash-randomized set order)."""
    if isinstance(value, Mapping):
        return sorted([repr(k), _stable(v)] for k, v in value.items())
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_stable(v) for v in value), key=repr)
    if isinstance(value, Callback):
        return ["Callback", value.func_name, value.timeout]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if callable(value) and hasattr(value, "__qualname__"):
        try:
            return ["callable", callable_name(value)]
        except TypeError:
            pass
    if hasattr(value, "__dict__"):
        return [type(value).__qualname__, _stable(vars(value))]
    return repr(value)
