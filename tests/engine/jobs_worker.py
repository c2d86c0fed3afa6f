"""Job functions for tests/engine/test_worker.py and tests/engine/test_dependencies_retry.py.

Importable by dotted path (``tests.engine.jobs_worker.<name>``), so a worker can load them.
Jobs report what they saw through Redis (the connection of the running job), never through
process globals, so the tests observe exactly what a worker in another process would leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time

from django_jobqueue import Queue, Worker, get_current_job

ORDER_KEY = "jqtest:order"
CALLBACKS_KEY = "jqtest:callbacks"
SEEN_KEY = "jqtest:seen"


def _connection():
    job = get_current_job()
    assert job is not None, "job functions must run inside a job"
    return job.connection


# --- running workers in tests ----------------------------------------------------------


def make_worker(queues, connection, **kwargs):
    kwargs.setdefault("wait_timeout", 0.2)
    return Worker(queues, connection=connection, **kwargs)


@contextlib.contextmanager
def in_thread(worker, **work_kwargs):
    """Run ``worker.work(**work_kwargs)`` in a thread; stop it and make sure it left."""
    outcome = {}

    def target():
        outcome["processed"] = worker.work(**work_kwargs)

    thread = threading.Thread(target=target, name=f"test-{worker.name}", daemon=True)
    thread.start()
    try:
        yield outcome
    finally:
        worker.request_stop()
        thread.join(timeout=30)
    assert not thread.is_alive(), "worker thread did not stop after request_stop()"


def order(connection):
    return [v.decode() for v in connection.lrange(ORDER_KEY, 0, -1)]


# --- plain work ----------------------------------------------------------------------------


def record(tag):
    """Append ``tag`` to the run order list; return it."""
    _connection().rpush(ORDER_KEY, tag)
    return tag


def record_and_enqueue(tag, queue_name, next_tag):
    """Record ``tag``, then enqueue ``record(next_tag)`` on ``queue_name``."""
    connection = _connection()
    connection.rpush(ORDER_KEY, tag)
    Queue(queue_name, connection=connection).enqueue(record, next_tag)
    return tag


def add(a, b):
    return a + b


def count_call(key):
    """INCR ``key`` and return the new value."""
    return int(_connection().incr(key))


def wait_for_key(key, limit=30.0):
    """Block (as a busy job) until ``key`` exists in Redis, for at most ``limit`` seconds."""
    connection = _connection()
    deadline = time.monotonic() + limit
    while connection.get(key) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{key} never set")
        time.sleep(0.02)
    return "released"


# --- the current job -----------------------------------------------------------------------


def current_job_id():
    job = get_current_job()
    return None if job is None else job.id


async def async_current_job_id():
    await asyncio.sleep(0)
    job = get_current_job()
    return None if job is None else job.id


async def _task_sees_job(delay):
    await asyncio.sleep(delay)
    job = get_current_job()
    return None if job is None else job.id


async def async_current_job_in_tasks():
    """Ids seen by get_current_job() in gathered coroutines and in a created task."""
    gathered = await asyncio.gather(_task_sees_job(0.01), _task_sees_job(0))
    created = await asyncio.create_task(_task_sees_job(0))
    job = get_current_job()
    return {"gathered": list(gathered), "created": created,
            "self": None if job is None else job.id}


# --- timeouts ------------------------------------------------------------------------------


def sleep_for(seconds):
    time.sleep(seconds)
    return "slept"


async def async_sleep_for(seconds):
    await asyncio.sleep(seconds)
    return "slept"


# --- failures ------------------------------------------------------------------------------


def _inner_helper(message):
    raise ValueError(message)


def raise_error(message="boom"):
    _inner_helper(message)


def raise_system_exit():
    raise SystemExit("job asked to exit")


def raise_keyboard_interrupt():
    raise KeyboardInterrupt("job pressed ctrl-c")


def call_sys_exit(code):
    sys.exit(code)


def fail_until(key, succeed_on):
    """INCR ``key``; raise until the call number reaches ``succeed_on``, then return it."""
    n = int(_connection().incr(key))
    if n < succeed_on:
        raise RuntimeError(f"attempt {n} fails")
    return n


# --- callbacks (RQ's signatures, no extras accepted) ---------------------------------------


def on_success_cb(job, connection, result):
    seen = get_current_job()
    connection.rpush(CALLBACKS_KEY, json.dumps({
        "kind": "success", "job_id": job.id, "result": result,
        "current_job": None if seen is None else seen.id,
    }))


def on_failure_cb(job, connection, exc_type, exc_value, traceback):
    connection.rpush(CALLBACKS_KEY, json.dumps({
        "kind": "failure", "job_id": job.id, "exc_type": exc_type.__name__,
        "exc_value": str(exc_value), "has_traceback": traceback is not None
        and hasattr(traceback, "tb_frame"),
    }))


def on_success_raises(job, connection, result):
    raise RuntimeError("success callback exploded")


def block_until(key, limit):
    """Stay in progress until ``key`` exists in Redis (bounded by ``limit`` seconds)."""
    conn = _connection()
    deadline = time.monotonic() + limit
    while not conn.exists(key) and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(conn.exists(key))
