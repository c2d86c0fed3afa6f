"""The job hash: its field names, how each value is stored, and the one decoder that reads
it back, strict for the worker (a corrupt value fails that job) and lenient for display (a
corrupt value is reported and every other field still shows).

Writers: ``Job.stored_fields``/``Job.save`` (Python) and the Lua scripts, which set status,
times, worker and attempts. Readers: ``Job`` (strict), ``overview.summaries`` and the admin's
job page (lenient), all through :func:`decode_job`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from .exceptions import DeserializationError
from .states import JobStatus
from .utils import UTC


def _text(value: bytes) -> str:
    return value.decode()


def _int(value: bytes) -> int | None:
    return int(value) if value != b"" else None


def _time(value: bytes) -> datetime | None:
    if value == b"":
        return None
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"{seconds} is not a time")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _status(value: bytes) -> JobStatus | None:
    return JobStatus(value.decode()) if value != b"" else None


def _ids(value: bytes) -> list[str]:
    return [item for item in value.decode().split(",") if item]


def _number(value: bytes) -> int | float:
    """An int when whole (as the previous version's intervals were), else a float."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{number} is not a finite number")
    return int(number) if number.is_integer() else number


def _numbers(value: bytes) -> list[int | float]:
    return [_number(item) for item in value.split(b",") if item]


def _raw(value: bytes) -> bytes:
    return value


def _trace(value: bytes) -> dict[str, str]:
    """A trace context (middleware.py): a JSON object of text values."""
    found = json.loads(value)
    if not isinstance(found, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
        raise ValueError("not a JSON object of text")
    return found


def _flag(value: bytes) -> bool:
    return value == b"1"


#: what each codec stores, for error messages
_KINDS: dict[Callable, str] = {
    _text: "text", _int: "an integer", _time: "a timestamp", _status: "a job status",
    _ids: "a comma list of ids", _numbers: "a comma list of numbers", _raw: "bytes",
    _number: "a number", _trace: "a JSON object of text",
    _flag: "a flag",
}

#: field name -> (Job attribute, decoder). The order is the order the job page shows.
JOB_FIELDS: dict[str, tuple[str, Callable[[bytes], Any]]] = {
    "status": ("_status", _status),
    "func_name": ("_func_name", _text),
    "description": ("description", _text),
    "exc_info": ("exc_info", _text),
    "origin": ("origin", _text),
    "worker_name": ("worker_name", _text),
    "created_at": ("created_at", _time),
    "enqueued_at": ("enqueued_at", _time),
    "started_at": ("started_at", _time),
    "ended_at": ("ended_at", _time),
    "timeout": ("timeout", _int),
    "result_ttl": ("result_ttl", _int),
    "failure_ttl": ("failure_ttl", _int),
    "ttl": ("ttl", _int),
    "priority": ("priority", _int),
    "attempts": ("attempts", _int),
    "retries_left": ("retries_left", _int),
    "retry_max": ("retry_max", _int),
    "retry_intervals": ("retry_intervals", _numbers),
    "retry_backoff": ("retry_backoff", _number),
    "retry_max_interval": ("retry_max_interval", _number),
    "retry_jitter": ("retry_jitter", _flag),
    "retry_on": ("retry_on", _ids),
    "on_worker_lost": ("on_worker_lost", _text),
    "lost_count": ("lost_count", _int),
    "last_lost_at": ("last_lost_at", _time),
    "last_lost_worker": ("last_lost_worker", _text),
    "unique_key": ("unique_key", _text),
    "unique_for": ("unique_for", _int),
    "dependency_ids": ("dependency_ids", _ids),
    "dependencies_pending": ("dependencies_pending", _ids),
    "due_at": ("due_at", _time),
    "has_dependents": ("has_dependents", _flag),
    "allow_dependency_failures": ("allow_dependency_failures", _flag),
    "enqueue_at_front": ("enqueue_at_front", _flag),
    "canceled_reason": ("canceled_reason", _text),
    "canceled_by": ("canceled_by", _text),
    "chain_id": ("chain_id", _text),
    "chain_steps": ("chain_steps", _ids),
    "recorded_attempt": ("recorded_attempt", _int),
    "group": ("group_id", _text),
    "limit_key": ("limit_key", _text),
    "limit_rate": ("limit_rate", _text),
    "limit_concurrency": ("limit_concurrency", _int),
    "trace": ("trace_context", _trace),
    "periodic": ("periodic", _text),
    "tick_at": ("tick_at", _time),
    "serializer": ("serializer_name", _text),
    "data": ("_data_blob", _raw),
    "meta": ("_meta_blob", _raw),
}
_BY_KEY = {name.encode(): (name, attr, decode) for name, (attr, decode) in JOB_FIELDS.items()}

#: fields holding a time (the admin formats them)
TIME_FIELDS = frozenset(n for n, (_, d) in JOB_FIELDS.items() if d is _time)

#: the fields a listing needs (never the call data, which can be large)
SUMMARY_FIELDS = ("status", "func_name", "description", "created_at", "enqueued_at",
                  "started_at", "ended_at", "worker_name", "origin", "meta", "serializer")


def decode_job(fields: Mapping[bytes, bytes], lenient: bool = False,
               problems: list[str] | None = None) -> dict[str, Any]:
    """Field name -> decoded value, for the fields of :data:`JOB_FIELDS` present in a job's
    hash (as HGETALL returns it). Strict: a corrupt value raises DeserializationError naming
    the field. Lenient: it is left out, and what is wrong is appended to ``problems``."""
    values: dict[str, Any] = {}
    for key, raw in fields.items():
        spec = _BY_KEY.get(key)
        if spec is None or raw is None:
            continue
        name, _, decode = spec
        try:
            values[name] = decode(raw)
        except (ValueError, OverflowError, OSError):  # UnicodeDecodeError is a ValueError
            shown = bytes(raw[:40])
            what = (f"unknown status {shown!r}" if decode is _status
                    else f"{shown!r} is not {_KINDS[decode]}")
            message = f"Corrupt job field {name!r}: {what}"
            if not lenient:
                raise DeserializationError(message) from None
            if problems is not None:
                problems.append(message)
    return values


def decode_values(names: Iterable[str], values: Iterable[bytes | None], lenient: bool = True,
                  problems: list[str] | None = None) -> dict[str, Any]:
    """:func:`decode_job` for the reply of an HMGET of ``names``."""
    return decode_job({n.encode(): v for n, v in zip(names, values, strict=True)
                       if v is not None}, lenient, problems)


def job_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Decoded values keyed by the Job attribute each one fills."""
    return {JOB_FIELDS[name][0]: value for name, value in values.items()}


# --- the worker record ------------------------------------------------------------------------

#: what a worker publishes about itself (heartbeat), field by field
WORKER_FIELDS = ("name", "hostname", "pid", "queues", "birth", "state", "current_job",
                 "last_heartbeat", "successful_job_count", "failed_job_count",
                 "total_working_time")


def lenient_number(raw: bytes | str | None) -> float:
    """A count or duration for display: 0 when missing or corrupt."""
    try:
        value = float(raw or 0)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def lenient_time(raw: bytes | str | float | None) -> datetime | None:
    """A time for display, from the stored text or epoch seconds: None when missing or
    corrupt (not a number, or out of datetime's range)."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        raw = raw.encode()
    elif not isinstance(raw, bytes):
        raw = repr(raw).encode()
    try:
        return _time(raw)
    except (ValueError, OverflowError, OSError):
        return None
