"""Jobs and callbacks for tests/engine/test_callbacks.py (importable by worker processes).

Every callback records its call in Redis (RQ's signatures, no extras accepted)."""

from __future__ import annotations

import asyncio
import json
import time

from django_jobqueue import get_current_job

CALLS_KEY = "jqtest:callback-calls"
LONG = 30  # seconds a slow callback would run if its timeout did not end it


def calls(connection):
    return [json.loads(v) for v in connection.lrange(CALLS_KEY, 0, -1)]


def _record(connection, kind, job, **extra):
    seen = get_current_job()
    connection.rpush(CALLS_KEY, json.dumps({
        "kind": kind, "job_id": job.id, "current_job": None if seen is None else seen.id,
        **extra,
    }))


# --- jobs ----------------------------------------------------------------------------------


def add(a, b):
    return a + b


def fail(message):
    raise ValueError(message)


def busy(limit):
    """Python code that stays busy (a stop or timeout lands between two bytecodes)."""
    get_current_job().connection.set("jqtest:busy-started", 1)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.01)
    raise RuntimeError("never stopped")


# --- callbacks -----------------------------------------------------------------------------


def on_success_cb(job, connection, result):
    _record(connection, "success", job, result=result)


def on_failure_cb(job, connection, exc_type, exc_value, traceback):
    _record(connection, "failure", job, exc_type=exc_type.__name__)


def on_stopped_cb(job, connection):
    _record(connection, "stopped", job)


def on_stopped_raises(job, connection):
    _record(connection, "stopped", job)
    raise RuntimeError("stopped callback exploded")


def _linger(connection, kind, job):
    _record(connection, kind, job)
    deadline = time.monotonic() + LONG
    while time.monotonic() < deadline:
        time.sleep(0.01)
    _record(connection, f"{kind} not interrupted", job)


def slow_success_cb(job, connection, result):
    _linger(connection, "success", job)


def slow_failure_cb(job, connection, exc_type, exc_value, traceback):
    _linger(connection, "failure", job)


async def async_success_cb(job, connection, result):
    await asyncio.sleep(0)
    _record(connection, "async success", job, result=result)


def half_sync_half_async_success_cb(job, connection, result):
    """Spends 0.7 s itself, then returns a coroutine that needs 0.7 s more: over a 1 s
    timeout in all, within it for each part."""
    _record(connection, "sync part", job)
    time.sleep(0.7)

    async def rest():
        await asyncio.sleep(0.7)
        _record(connection, "async part not interrupted", job)

    return rest()


async def slow_async_success_cb(job, connection, result):
    _record(connection, "async success", job)
    await asyncio.sleep(LONG)
    _record(connection, "async success not interrupted", job)
