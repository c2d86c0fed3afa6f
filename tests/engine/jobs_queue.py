"""Job functions for the queue / registry / failed-queue / round-trip tests.

Module-level so that workers (in-process or subprocesses started with cwd = repository root)
can import them as ``tests.engine.jobs_queue.<name>``.
"""

from __future__ import annotations

from django_jobqueue import get_current_job

ORDER_KEY = "test:order"


def noop() -> None:
    return None


def add(a: int, b: int) -> int:
    return a + b


def echo(*args, **kwargs):
    """Returns what it was called with (to check which arguments reach the function)."""
    return list(args), dict(sorted(kwargs.items()))


def fail(message: str = "boom") -> None:
    raise ValueError(message)


def record(tag: str) -> str:
    """Append ``tag`` to a Redis list, so a test can read the order jobs ran in."""
    job = get_current_job()
    job.connection.rpush(ORDER_KEY, tag)
    return tag


def gate(key: str, timeout: float = 10.0) -> str:
    """Block (BLPOP, no polling) until the test pushes to ``key``; lets a test see a job
    while it is started."""
    job = get_current_job()
    job.connection.blpop([key], timeout=timeout)
    return "opened"


def whoami() -> dict:
    """What the running job sees of itself through get_current_job()."""
    job = get_current_job()
    job.meta["seen"] = True
    job.save_meta()
    return {"id": job.id, "origin": job.origin, "status": str(job.get_status())}


def on_success_cb(job, connection, result) -> None:
    connection.rpush("test:callbacks", f"success:{job.id}")


def on_failure_cb(job, connection, exc_type, exc_value, tb) -> None:
    connection.rpush("test:callbacks", f"failure:{job.id}")


# --- test helpers shared by the queue/registry tests (not job functions) -----------------


def places(connection, job_id: str, queue_name: str) -> list[str]:
    """Every place (queue zset or registry) of ``queue_name`` that holds ``job_id``."""
    from django_jobqueue.engine import keys

    names = ["queue", *keys.REGISTRY_KINDS]
    redis_keys = [keys.queue(queue_name)] + [
        keys.registry(kind, queue_name) for kind in keys.REGISTRY_KINDS
    ]
    pipe = connection.pipeline(transaction=False)
    for key in redis_keys:
        pipe.zscore(key, job_id)
    return [name for name, score in zip(names, pipe.execute(), strict=True) if score is not None]


def assert_in_one_place(connection, job_id: str, queue_name: str, expected: str) -> None:
    found = places(connection, job_id, queue_name)
    assert found == [expected], f"job {job_id} is in {found}, expected exactly [{expected!r}]"


class running_worker:  # noqa: N801 (used as a context manager, like a function)
    """``with running_worker(queues, url) as worker:`` a non-burst worker on a thread, on a
    client of its own; stopped (request_stop + join) on exit."""

    def __init__(self, queues, url: str, **options) -> None:
        import redis

        from django_jobqueue import Queue, Worker

        self.client = redis.Redis.from_url(url)
        names = [q if isinstance(q, str) else q.name for q in queues]
        options.setdefault("wait_timeout", 0.2)
        options.setdefault("maintenance_interval", 0.1)
        self.worker = Worker([Queue(n, connection=self.client) for n in names],
                             connection=self.client, **options)

    def __enter__(self):
        import threading

        self.thread = threading.Thread(target=self.worker.work, daemon=True)
        self.thread.start()
        return self.worker

    def __exit__(self, *exc) -> None:
        self.worker.request_stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "worker thread did not stop"
        self.client.close()
