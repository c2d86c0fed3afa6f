"""Every time a page shows goes through :func:`shown_time`, which never raises: one odd value
must not turn a page into a 500. A time the current zone cannot show (23:30 UTC on
9999-12-31 is year 10000 in Paris) is shown in UTC, saying so; a stored value that is no
time at all is shown as stored, saying so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone

from django.utils import timezone

from ..engine.fields import lenient_time
from ..engine.utils import decode_text

UTC = dt_timezone.utc
#: characters of a value that is no time shown in its place (the job page has it all)
RAW_SHOWN = 60


@dataclass(frozen=True)
class ShownTime:
    """``day`` and ``clock`` in ``zone``; ``note`` says why the zone is not the current one.
    For a value that is no time, ``day`` holds the stored text and ``problem`` says so."""

    day: str
    clock: str = ""
    zone: str = ""
    note: str = ""
    problem: str = ""

    def __str__(self) -> str:
        return " ".join(part for part in (self.day, self.clock, self.zone) if part)


def shown_time(value: datetime | float | str | bytes | None) -> ShownTime | None:
    """A datetime, or epoch seconds as Redis stores them, in the current time zone (None
    when there is no value)."""
    if value is None or value == "" or value == b"":
        return None
    when = value if isinstance(value, datetime) else lenient_time(value)
    if when is None:
        return ShownTime(_as_text(value), problem="not a time")
    if when.tzinfo is None:  # the engine's times are UTC
        when = when.replace(tzinfo=UTC)
    try:
        local = timezone.localtime(when)
    except (OverflowError, ValueError, OSError):  # past year 9999 or before year 1 there
        pass
    else:
        return _parts(local, local.tzname() or timezone.get_current_timezone_name())
    try:
        utc = when.astimezone(UTC)
    except (OverflowError, ValueError, OSError):
        return ShownTime(_as_text(value), problem="not a time")
    return _parts(utc, "UTC", note=f"shown in UTC: out of range in "
                                   f"{timezone.get_current_timezone_name()}")


def _parts(when: datetime, zone: str, note: str = "") -> ShownTime:
    # formatted by hand: strftime("%Y") drops the leading zeros of year 1
    return ShownTime(f"{when.year:04d}-{when.month:02d}-{when.day:02d}",
                     f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}", zone, note)


def _as_text(value: object) -> str:
    text = decode_text(value) if isinstance(value, str | bytes) else repr(value)
    return text if len(text) <= RAW_SHOWN else text[:RAW_SHOWN] + "…"
