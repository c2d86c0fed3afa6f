"""Cumulative metrics kept in Redis, so that they survive worker restarts (Prometheus'
``rate()`` works) and every worker adds to the same ones: per queue and function, how many
executions finished, were retried, failed or were stopped, a histogram of their run times,
and per-minute throughput kept 48 hours.

The step that records an outcome writes them (``_metrics.lua``, in finish.lua and
fail.lua: no extra round trip); this module defines the buckets and reads them back, each
reader in one round trip.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from redis import Redis

from . import keys
from .utils import decode_text

#: upper bounds (seconds) of the run-time histogram's buckets (Prometheus' defaults and a
#: longer tail for jobs); a run longer than the last falls in +Inf
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                              30.0, 60.0, 300.0, 1800.0)
#: the outcomes an execution is counted under
OUTCOMES = ("finished", "retried", "failed", "stopped")
#: how long per-minute throughput is kept (48 hours, plus the hour a hash spans)
HISTORY_TTL = 49 * 3600


def lua_definitions() -> list[tuple[str, str]]:
    """METRIC_BUCKETS and HISTORY_TTL for _metrics.lua, generated from this module."""
    bounds = ", ".join(repr(b) for b in BUCKETS)
    return [("METRIC_BUCKETS", f"local METRIC_BUCKETS = {{{bounds}}}"),
            ("HISTORY_TTL", f"local HISTORY_TTL = {HISTORY_TTL}")]


@dataclass
class FunctionStats:
    """One function's counts on one queue, since the counters began."""

    queue: str
    func: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    #: runs per bucket (len(BUCKETS) + 1: the last is longer than every bound)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total_us: int = 0

    @property
    def runs(self) -> int:
        """Runs in the histogram (those whose run time was known)."""
        return sum(self.buckets)

    @property
    def seconds(self) -> float:
        return self.total_us / 1e6

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, runs of at most that long) per bucket, ending with (inf, all)."""
        out, running = [], 0
        for bound, count in zip((*BUCKETS, math.inf), self.buckets, strict=True):
            running += count
            out.append((bound, running))
        return out

    def percentile(self, p: float) -> float | None:
        """The run time below which ``p`` (0..1) of the runs fall, interpolated within its
        bucket (as Prometheus' histogram_quantile does); None without runs. A result in
        the last bucket is its lower bound."""
        total = self.runs
        if not total:
            return None
        rank, below, lower = p * total, 0, 0.0
        for bound, count in zip((*BUCKETS, math.inf), self.buckets, strict=True):
            if count and below + count >= rank:
                if math.isinf(bound):
                    return lower
                return lower + (bound - lower) * max(rank - below, 0) / count
            below += count
            lower = bound if not math.isinf(bound) else lower
        return lower


def parse_counters(queue: str, raw: dict[bytes, bytes]) -> dict[str, FunctionStats]:
    """A queue's metrics hash (as HGETALL returns it) -> per function stats; corrupt values
    count 0. For readers that fetch the hash in a pipeline of their own."""
    found: dict[str, FunctionStats] = {}
    for key, value in raw.items():
        name, _, part = decode_text(key).rpartition("|")
        try:
            number = int(value)
        except ValueError:
            continue
        stats = found.get(name)
        if stats is None:
            stats = found[name] = FunctionStats(queue, name)
        bucket = _number(part[1:]) if part[:1] == "b" else None
        if part in stats.counts:
            stats.counts[part] = number
        elif part == "us":
            stats.total_us = number
        elif bucket is not None and 1 <= bucket <= len(BUCKETS) + 1:
            stats.buckets[bucket - 1] = number
    return found


def read_counters(connection: Redis, queues: Iterable[str]
                  ) -> dict[str, dict[str, FunctionStats]]:
    """queue -> function -> its stats, for every queue given (one round trip)."""
    names = list(queues)
    pipe = connection.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.metrics(name))
    replies = pipe.execute(raise_on_error=False)
    return {name: parse_counters(name, reply) if isinstance(reply, dict) else {}
            for name, reply in zip(names, replies, strict=True)}


@dataclass(frozen=True)
class MinuteCounts:
    """One minute's ended executions on one queue (``minute``: epoch seconds, a multiple
    of 60)."""

    minute: int
    finished: int = 0
    retried: int = 0
    failed: int = 0
    stopped: int = 0


def _minutes(minutes: int, now: float | None) -> tuple[int, int, range]:
    """(first, last minute: epoch minutes; the hours they span) of the last ``minutes``."""
    minutes = max(1, min(int(minutes), 48 * 60))
    last = int((time.time() if now is None else now) // 60)
    first = last - minutes + 1
    return first, last, range(first // 60, last // 60 + 1)


def _number(text: str) -> int | None:
    """A stored count (ASCII digits only: "²".isdigit() is true, int("²") fails)."""
    return int(text) if text.isascii() and text.isdigit() else None


def _history(replies: Iterable[object], first: int, last: int) -> list[MinuteCounts]:
    counts: dict[int, dict[str, int]] = {}
    for reply in replies:
        for key, value in (reply.items() if isinstance(reply, dict) else ()):
            minute, _, outcome = decode_text(key).partition("|")
            number, at = _number(decode_text(value)), _number(minute)
            if outcome in OUTCOMES and at is not None and first <= at <= last \
                    and number is not None:
                counts.setdefault(at, {})[outcome] = number
    return [MinuteCounts(m * 60, **counts.get(m, {})) for m in range(first, last + 1)]


def _depth(replies: Iterable[object], first: int, last: int) -> list[tuple[int, int | None]]:
    sampled: dict[int, int] = {}
    for reply in replies:
        for key, value in (reply.items() if isinstance(reply, dict) else ()):
            at, number = _number(decode_text(key)), _number(decode_text(value))
            if at is not None and first <= at <= last and number is not None:
                sampled[at] = number
    return [(m * 60, sampled.get(m)) for m in range(first, last + 1)]


@dataclass(frozen=True)
class Activity:
    """A queue's last minutes: ended executions per minute, and its depth per minute (None
    where no worker sampled it)."""

    history: list[MinuteCounts]
    depth: list[tuple[int, int | None]]


def read_activity(connection: Redis, queues: Sequence[str], minutes: int = 60,
                  now: float | None = None) -> dict[str, Activity]:
    """queue -> its throughput and depth over the last ``minutes`` minutes (at most 48
    hours; oldest first, the current minute last), for every queue in one round trip."""
    first, last, hours = _minutes(minutes, now)
    pipe = connection.pipeline(transaction=False)
    for name in queues:
        for hour in hours:
            pipe.hgetall(keys.history(name, hour))
            pipe.hgetall(keys.depth(name, hour))
    replies = pipe.execute(raise_on_error=False)
    out, step = {}, 2 * len(hours)
    for n, name in enumerate(queues):
        mine = replies[n * step:(n + 1) * step]
        out[name] = Activity(_history(mine[0::2], first, last),
                             _depth(mine[1::2], first, last))
    return out


def read_history(connection: Redis, queues: Sequence[str], minutes: int = 60,
                 now: float | None = None) -> dict[str, list[MinuteCounts]]:
    """queue -> ended executions per minute over the last ``minutes`` (read_activity)."""
    return {name: a.history for name, a in read_activity(connection, queues, minutes,
                                                          now).items()}


def read_depth(connection: Redis, queues: Sequence[str], minutes: int = 60,
               now: float | None = None) -> dict[str, list[tuple[int, int | None]]]:
    """queue -> (minute, queued jobs then, None when no worker sampled it) over the last
    ``minutes`` (read_activity). Workers sample each queue they serve once a minute
    (depth_sample.lua)."""
    return {name: a.depth for name, a in read_activity(connection, queues, minutes,
                                                        now).items()}
