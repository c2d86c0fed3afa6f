"""Job functions of the admin tests (importable by worker threads and subprocesses)."""

from __future__ import annotations

from django_jobqueue import get_current_job


def add(a: int, b: int) -> int:
    return a + b


def fail(message: str = "boom") -> None:
    raise ValueError(message)


def report(percent: int) -> str:
    job = get_current_job()
    job.meta["progress"] = percent
    job.save_meta()
    return "done"


def spin(limit: float) -> None:
    """Busy Python code until stopped (an asynchronous exception lands between two
    bytecodes), at most ``limit`` seconds."""
    import time

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        pass
    raise RuntimeError("never stopped")


def echo(*args, **kwargs):
    return {"args": args, "kwargs": kwargs}
