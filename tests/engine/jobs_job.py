"""Job functions (and helpers) for test_seed, test_job, test_serialization.

Importable as ``tests.engine.jobs_job`` so that workers can load them by dotted path. Functions
that need Redis use the running job's own connection (``get_current_job().connection``).
"""

from __future__ import annotations

import builtins
import json
import os
import re
import threading
import time as _time

import redis

from django_jobqueue import Queue, Worker, get_current_job

EVENT_PREFIX = "test-event:"
PRINTED_PREFIX = "test-printed:"
EVENT_TIMEOUT = 30.0


# --- waiting on an event set by the test ------------------------------------------------


def event_key(name: str) -> str:
    return EVENT_PREFIX + name


def wait_for_event(connection, name: str, timeout: float = EVENT_TIMEOUT) -> None:
    """Block until the test sets ``event_key(name)`` (polled, with a deadline)."""
    deadline = _time.monotonic() + timeout
    while not connection.exists(event_key(name)):
        if _time.monotonic() > deadline:
            raise TimeoutError(f"event {name!r} was never set")
        _time.sleep(0.01)


def set_event(connection, name: str) -> None:
    connection.set(event_key(name), "1")


class WorkerThread(threading.Thread):
    """A burst worker on its own thread and its own client (for jobs that wait on an event)."""

    def __init__(self, queue_name: str, redis_url: str, **worker_kwargs) -> None:
        super().__init__(daemon=True)
        self.client = redis.client.Redis.from_url(redis_url)
        queue = Queue(queue_name, connection=self.client)
        self.worker = Worker([queue], connection=self.client, **worker_kwargs)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.worker.work(burst=True)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self) -> None:
        self.join(timeout=30)
        self.client.close()
        assert not self.is_alive(), "worker did not finish"
        assert self.error is None, self.error


# --- names the documentation page uses without defining them ---------------------------


def say_hello(name: str = "World") -> str:
    return f"Hello {name}!"


def count_words_at_url(url: str) -> int:
    """The docs' example name; counts the words of the URL itself (no network in tests)."""
    return len(re.findall(r"[A-Za-z0-9]+", url))


class _SeedTime:
    """``time`` for the page's meta example: ``time.sleep()`` ("do more work") waits until the
    test has looked at the running job and sets the event named after the job id."""

    def sleep(self, seconds: float) -> None:
        job = get_current_job()
        if job is None:
            _time.sleep(seconds)
            return
        wait_for_event(job.connection, job.id)


seed_time = _SeedTime()


def seed_print(*args, **kwargs) -> None:
    """``print`` for the page's current-job example: prints, publishes the line to Redis for
    the test to read while the job runs, then waits for the test's event."""
    builtins.print(*args, **kwargs)
    job = get_current_job()
    if job is None:
        return
    line = " ".join(str(a) for a in args)
    job.connection.rpush(PRINTED_PREFIX + job.id, line)
    wait_for_event(job.connection, job.id)


# --- plain job functions -------------------------------------------------------------------


def add(x, y):
    return x + y


def div_by_zero(x):
    return x / 0


def echo(*args, **kwargs):
    return [list(args), kwargs]


def set_marker(key: str) -> str:
    """Side effect visible in Redis: proves the job ran."""
    get_current_job().connection.set(key, "ran")
    return "ran"


def fail_once(message: str = "first attempt fails") -> str:
    """Fails on its first attempt, succeeds on the next (counter kept in Redis)."""
    job = get_current_job()
    attempt = job.connection.incr("test-attempts:" + job.id)
    if attempt == 1:
        raise RuntimeError(message)
    return f"ok on attempt {attempt}"


def always_fail(message: str = "boom") -> None:
    raise ValueError(message)


def meta_then_wait(value: str) -> str:
    """Saves meta, then waits for the test's event (named after the job id)."""
    job = get_current_job()
    job.meta["progress"] = value
    job.save_meta()
    wait_for_event(job.connection, job.id)
    return "done"


def wait_then_return(value):
    job = get_current_job()
    wait_for_event(job.connection, job.id)
    return value


def return_lock():
    return threading.Lock()


def return_generator():
    return (i for i in range(3))


class Multiplier:
    def __init__(self, factor: int) -> None:
        self.factor = factor

    def multiply(self, x: int) -> int:
        return x * self.factor


# --- serialization helpers ------------------------------------------------------------------

#: set by _fire_marker, i.e. only if a MarkerPayload was ever unpickled in this process
MARKER_FIRED: list[str] = []


def _fire_marker(path: str) -> str:
    MARKER_FIRED.append(path)
    with open(path, "w") as fh:
        fh.write("unpickled")
    return path


class MarkerPayload:
    """Pickles fine; *unpickling* it creates a marker file and records the path globally."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_fire_marker, (self.path,))


def marker_exists(path: str) -> bool:
    return os.path.exists(path) or path in MARKER_FIRED


class TaggedJSONSerializer:
    """A custom serializer (by dotted path): JSON with a recognisable tag in front."""

    TAG = b"TAGGED-JSON:"

    @staticmethod
    def dumps(obj) -> bytes:
        return TaggedJSONSerializer.TAG + json.dumps(obj).encode()

    @staticmethod
    def loads(data: bytes):
        if not data.startswith(TaggedJSONSerializer.TAG):
            raise ValueError("not tagged")
        return json.loads(data[len(TaggedJSONSerializer.TAG):])
