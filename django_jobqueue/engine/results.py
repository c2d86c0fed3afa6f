"""One execution's outcome, kept per job (``job.results()``, ``job.latest_result()``)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

from .exceptions import DeserializationError, SerializationError
from .fields import lenient_time
from .serializers import dumps_signed, loads_signed

#: executions kept per job, newest first
RESULTS_KEPT = 10
#: the most kept for a job whose Retry allows more runs than RESULTS_KEPT (a page of them)
RESULTS_KEPT_MAX = 100


def results_kept(retry_max: int | None) -> int:
    """Executions kept for a job: every run its Retry allows (max + 1), within bounds."""
    return min(RESULTS_KEPT_MAX, max(RESULTS_KEPT, (retry_max or 0) + 1))


class Result:
    class Type(IntEnum):
        SUCCESSFUL = 1
        FAILED = 2
        STOPPED = 3
        RETRIED = 4

    def __init__(
        self,
        job_id: str,
        type: Type,
        return_value: Any = None,
        exc_string: str | None = None,
        worker_name: str = "",
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        attempt: int | None = None,
    ) -> None:
        self.job_id = job_id
        #: the job's attempt number this run had (None in entries of earlier versions)
        self.attempt = attempt
        self.type = type
        self.return_value = return_value
        self.exc_string = exc_string
        self.worker_name = worker_name
        self.started_at = started_at
        self.ended_at = ended_at

    @property
    def created_at(self) -> datetime | None:
        return self.ended_at

    @property
    def duration(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None

    def __repr__(self) -> str:
        return f"Result(job_id={self.job_id!r}, type={self.type.name})"

    @staticmethod
    def payload(
        serializer: Any,
        type: Type,
        return_value: Any,
        exc_string: str | None,
        worker_name: str,
        started_at: float | None,
        ended_at: float,
        attempt: int | None = None,
    ) -> bytes:
        entry = {
            "t": int(type),
            "v": return_value,
            "e": exc_string,
            "w": worker_name,
            "s": started_at,
            "f": ended_at,
        }
        if attempt:
            entry["a"] = attempt
        try:
            return dumps_signed(serializer, entry)
        except Exception as exc:
            raise SerializationError(
                f"The job's return value cannot be serialized: {type_name(exc)}: {exc}"
            ) from exc

    @classmethod
    def from_payload(cls, job_id: str, blob: bytes, serializer: Any) -> Result:
        try:
            entry = loads_signed(serializer, blob)
            return cls(
                job_id,
                cls.Type(entry["t"]),
                return_value=entry.get("v"),
                exc_string=entry.get("e"),
                worker_name=entry.get("w") or "",
                # a corrupt time reads as none (an odd entry must not hide the others)
                started_at=lenient_time(entry.get("s")),
                ended_at=lenient_time(entry.get("f")),
                attempt=_attempt(entry.get("a")),
            )
        except DeserializationError as exc:
            return cls(job_id, cls.Type.FAILED, exc_string=f"Unreadable result: {exc}")
        except (KeyError, TypeError, ValueError) as exc:
            return cls(job_id, cls.Type.FAILED, exc_string=f"Malformed result entry: {exc!r}")


def _attempt(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None


def type_name(exc: BaseException) -> str:
    return type(exc).__name__
