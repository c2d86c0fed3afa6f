"""Job functions for the group and limit tests (tests/engine/test_groups*.py,
test_limits*.py). Each records what it saw in Redis, through the running job's connection,
so that a test sees what workers in other processes did."""

from __future__ import annotations

import time

from django_jobqueue import get_current_job

QUEUE = "flow"
RUNS = "jqtest:flow:runs"  # hash: job id -> executions
CALLBACKS = "jqtest:flow:callbacks"  # list: one entry per callback run
SPANS = "jqtest:flow:spans"  # list: "<id> <start> <end>" per execution (Redis TIME)
OTHER = "jqtest:flow:other"  # list: ids of the unlimited jobs, in the order they ran


def _conn():
    return get_current_job().connection


def _redis_now(conn) -> float:
    seconds, micros = conn.time()
    return seconds + micros / 1e6


def counted(tag: str = "", seconds: float = 0.0) -> str:
    """Count this execution (by job id); sleep ``seconds``; return ``tag``."""
    job = get_current_job()
    job.connection.hincrby(RUNS, job.id, 1)
    if seconds:
        time.sleep(seconds)
    return tag


def spanned(seconds: float = 0.0) -> str:
    """Record this execution's start and end by Redis's clock; sleep ``seconds`` between."""
    job = get_current_job()
    conn = job.connection
    start = _redis_now(conn)
    conn.hincrby(RUNS, job.id, 1)
    time.sleep(seconds)
    conn.rpush(SPANS, f"{job.id} {start:.6f} {_redis_now(conn):.6f}")
    return job.id


def other() -> str:
    job = get_current_job()
    job.connection.rpush(OTHER, job.id)
    return job.id


def fails() -> None:
    raise RuntimeError("this job fails")


def fails_until(key: str) -> str:
    """Counted; fails while ``key`` does not exist."""
    job = get_current_job()
    job.connection.hincrby(RUNS, job.id, 1)
    if job.connection.get(key) is None:
        raise RuntimeError(f"{key} is not set yet")
    return "ok"


def held_until(key: str, limit: float = 60.0) -> str:
    """Run (counted) until ``key`` exists: a job that keeps its slot."""
    job = get_current_job()
    conn = job.connection
    conn.hincrby(RUNS, job.id, 1)
    conn.rpush(SPANS, f"{job.id} {_redis_now(conn):.6f} -")
    deadline = time.monotonic() + limit
    while conn.get(key) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"


def on_group_done(group) -> int:
    """A group callback: records which group, and how many of its results it read."""
    jobs = group.get_jobs()
    results = [j.return_value() for j in jobs]
    kind = get_current_job().description.split(" ")[0]
    group.connection.rpush(CALLBACKS, f"{kind} {group.name} {len(results)}")
    return len(results)


def runs(conn, job_id: str) -> int:
    return int(conn.hget(RUNS, job_id) or 0)


def callbacks(conn) -> list[str]:
    return [c.decode() for c in conn.lrange(CALLBACKS, 0, -1)]


def spans(conn) -> list[tuple[str, float, float | None]]:
    out = []
    for entry in conn.lrange(SPANS, 0, -1):
        job_id, start, end = entry.decode().split()
        out.append((job_id, float(start), None if end == "-" else float(end)))
    return out
