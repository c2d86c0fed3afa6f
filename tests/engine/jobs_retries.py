"""Job functions for tests/engine/test_retries.py (and the admin's and Django layer's retry
tests), importable by dotted path so a worker can load them. They count their calls in
Redis (the running job's connection)."""

from __future__ import annotations

from django_jobqueue import Retry, RetryLater, get_current_job
from django_jobqueue.engine.utils import import_attribute

CALLS_KEY = "jqtest:retry-calls"


def _call_number() -> int:
    job = get_current_job()
    assert job is not None, "job functions must run inside a job"
    return int(job.connection.incr(CALLS_KEY))


def calls(connection) -> int:
    return int(connection.get(CALLS_KEY) or 0)


def raise_named(exception_path: str, message: str = "boom") -> None:
    """Raise the exception class at ``exception_path`` (e.g. ``builtins.ConnectionError``)."""
    _call_number()
    raise import_attribute(exception_path)(message)


def raise_retry_later(delay: float | None = None) -> None:
    _call_number()
    raise RetryLater(delay)


def return_retry_later_once(delay: float | None = None) -> int:
    """Ask for a retry (returning the request) on the first call; return the call number
    after."""
    n = _call_number()
    return RetryLater(delay) if n == 1 else n  # type: ignore[return-value]


def return_rq_retry(max: int, interval: int) -> Retry:
    """RQ 2.1's form: return a Retry."""
    _call_number()
    return Retry(max=max, interval=interval)
