"""Small helpers shared by the engine's modules."""

from __future__ import annotations

import importlib
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc


def import_attribute(name: str) -> Any:
    """Import ``package.module.attr.sub`` by trying the longest importable module prefix."""
    parts = name.split(".")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"{name!r} is not a dotted path (module.attribute)")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and not module_name.startswith(exc.name) and exc.name != module_name:
                raise  # the module exists but one of its own imports is missing
            continue
        for attr in parts[split:]:
            target = getattr(target, attr)
        return target
    raise ImportError(f"No module found for {name!r}")


def to_timestamp(value: datetime) -> float:
    """Epoch seconds; a naive datetime is local time (``datetime.timestamp()``), as in RQ."""
    return value.timestamp()


def from_timestamp(value: bytes | str | float | None) -> datetime | None:
    if value is None or value == b"" or value == "":
        return None
    return datetime.fromtimestamp(float(value), tz=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, what: str) -> int | None:
    """Seconds from an int, a timedelta or a string such as '90', '15m', '2h', '1d'."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number of seconds, not {value!r}")
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, float):
        # a fraction of a second rounds up: 0.5 must not become 0 (which means "no limit")
        return math.ceil(value) if value > 0 else int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+)\s*([smhd]?)\s*", value.lower())
        if match:
            return int(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)
    raise ValueError(f"{what} must be seconds (int) or a string like '15m', not {value!r}")


def decode(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


def decode_text(value: bytes | str | None) -> str | None:
    """For display: bytes that are not UTF-8 become U+FFFD instead of an error."""
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def refuse_unknown(callee: str, given: dict[str, Any], ignored: frozenset[str]) -> None:
    """A typo such as ``Worker(q, conection=r)`` must not pass silently: keyword arguments
    other than the RQ ones we deliberately ignore (``ignored``) raise TypeError."""
    unknown = sorted(set(given) - ignored)
    if unknown:
        raise TypeError(
            f"{callee}() got unexpected keyword argument{'s' * (len(unknown) > 1)} "
            f"{', '.join(map(repr, unknown))}"
        )
