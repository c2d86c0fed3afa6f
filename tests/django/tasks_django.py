"""@job functions for the Django layer's tests (importable by dotted path)."""

from __future__ import annotations

from django_jobqueue import Retry, get_current_job, job


@job
def add(a, b):
    return a + b


@job("high", timeout=30, result_ttl=1000, priority=5)
def tagged(label, timeout=None):
    current = get_current_job()
    return {"label": label, "queue": current.origin if current else None,
            "timeout_argument": timeout}


def whoami():
    current = get_current_job()
    return current.id if current else None


@job("default", retry=Retry(max=2, interval=45, on=(ConnectionError,)))
def flaky(message):
    raise ConnectionError(message)
