"""When a periodic job's ticks fall: every N seconds (aligned on the epoch, so every worker
computes the same ticks), or a five-field cron expression read as wall time in a time zone.

Cron matching is croniter's (the ``cron`` extra); turning a local wall time into an instant is
done here, so that daylight-saving changes behave as documented: a wall time that a jump
skips fires once, at the jump; a wall time that occurs twice fires once, at its first
occurrence. Ticks are whole seconds since the epoch (UTC).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc
#: the aliases croniter understands besides five fields
CRON_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                "@hourly")
CRON_EXTRA = "django-jobqueue[cron]"


class CronUnavailable(ImportError):
    """croniter is not installed: a CRON schedule needs the ``cron`` extra."""


def _croniter():
    try:
        from croniter import croniter
    except ImportError as exc:
        raise CronUnavailable(
            f"A CRON schedule needs croniter: pip install '{CRON_EXTRA}'"
        ) from exc
    return croniter


def zone(name: str) -> ZoneInfo:
    """The time zone named ``name`` (IANA name such as "Europe/Paris"), or ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"time zone must be an IANA name such as 'Europe/Paris', not {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def check_cron(expression: str) -> str:
    """The expression, stripped, if it is five cron fields (or an @alias); else ValueError."""
    if not isinstance(expression, str):
        raise ValueError(f"a cron expression is a string, not {expression!r}")
    text = " ".join(expression.split())
    if text not in CRON_ALIASES and len(text.split(" ")) != 5:
        raise ValueError(f"cron expression {expression!r} must have five fields "
                         "(minute hour day-of-month month day-of-week)")
    if not _croniter().is_valid(text):
        raise ValueError(f"invalid cron expression {expression!r}")
    return text


def next_every(every: int, after: float) -> int:
    """The first multiple of ``every`` seconds strictly after ``after``."""
    return (math.floor(after) // every + 1) * every


def last_every(every: int, upto: float) -> int:
    """The last multiple of ``every`` seconds at or before ``upto``."""
    return math.floor(upto) // every * every


def next_cron(expression: str, tz: ZoneInfo, after: float) -> int:
    """The first tick of ``expression`` (wall time in ``tz``) strictly after ``after``."""
    wall = _wall(after, tz)
    matches = _croniter()(expression, wall)
    for _ in range(10000):  # a handful in practice; bounded so a bad zone cannot spin
        instant = _instant(matches.get_next(datetime), tz)
        if instant > after:
            return instant
    raise ValueError(f"cron expression {expression!r} has no tick after {after}")


def last_cron(expression: str, tz: ZoneInfo, upto: float) -> int | None:
    """The last tick of ``expression`` at or before ``upto`` (None if none in 10,000)."""
    wall = _wall(upto, tz) + timedelta(seconds=1)
    matches = _croniter()(expression, wall)
    for _ in range(10000):
        instant = _instant(matches.get_prev(datetime), tz)
        if instant <= upto:
            return instant
    return None


def _wall(at: float, tz: ZoneInfo) -> datetime:
    """The naive local wall time at instant ``at`` (whole seconds)."""
    return datetime.fromtimestamp(math.floor(at), tz).replace(tzinfo=None)


def _instant(wall: datetime, tz: ZoneInfo) -> int:
    """The instant (epoch seconds) a local wall time stands for: its first occurrence when
    the clock went back, the moment of the jump when the clock went forward past it."""
    first = wall.replace(tzinfo=tz, fold=0)
    seconds = int(first.timestamp())
    if datetime.fromtimestamp(seconds, tz).replace(tzinfo=None) == wall:
        return seconds
    # ``wall`` does not exist: fold=1 reads it with the offset after the jump (an earlier
    # instant), fold=0 with the one before (a later one); the jump lies between them
    low = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    high = seconds
    if low > high:
        low, high = high, low
    while low < high:  # the first second whose wall time is at or past ``wall``
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle + 1
    return high


def describe_cron(expression: str) -> str:
    """The expression in words ("At 03:00") when cron-descriptor is installed, else the
    expression itself."""
    try:
        from cron_descriptor import Options, get_description
    except ImportError:
        return f"cron {expression}"
    options = Options()  # fixed, not the process's locale: the same words everywhere
    options.use_24hour_time_format = True
    options.locale_code = "en_US"
    try:
        return get_description(expression, options)
    except Exception:  # its own errors: show the expression rather than fail a page
        return f"cron {expression}"


def describe_every(every: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if every % size == 0:
            count = every // size
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    return "Every second" if every == 1 else f"Every {every} seconds"
