"""Nothing is lost when Redis goes away: a restart (data kept), an outage, dropped connections.

Real worker subprocesses (``python -m django_jobqueue.engine worker``, lease 2 s) against the
session's private redis-server, which these tests restart / stop / start (they skip when
JOBQUEUE_TEST_REDIS_URL points at an external server: the fixture does it).
"""

from __future__ import annotations

import time

import pytest

from django_jobqueue import JobStatus
from tests.engine.jobs_faults import (
    alive_until,
    blocked_in_blpop,
    has_started,
    release,
    run_count,
    tracked,
    where,
    worker_names,
)
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(60)

def _ready_worker(connection, workers, name: str):
    """A worker process that has registered and is idle in its blocking wait."""
    proc = workers.start(name)
    wait_until(lambda: name in worker_names(connection), timeout=15,
               message=f"worker {name} never registered\n{workers.logs()}")
    wait_until(lambda: blocked_in_blpop(connection), timeout=15)
    return proc


def _all_finished(connection, jobs, workers, timeout: float = 20) -> None:
    """Wait until every job is finished and sits in exactly the finished registry."""

    def done() -> bool:
        return all(where(connection, job.id) == ["finished"] for job in jobs)

    wait_until(done, timeout=timeout,
               message=f"not all jobs finished: "
                       f"{[(j.id, where(connection, j.id)) for j in jobs]}\n{workers.logs()}")
    for job in jobs:
        job.refresh()
        assert job.get_status(refresh=False) == JobStatus.FINISHED


def _hold(connection, fq, workers, tag: str):
    job = fq.enqueue(tracked, tag, hold_runs=1, job_timeout=60)
    wait_until(lambda: has_started(connection, tag), timeout=15,
               message=f"job {tag} never started\n{workers.logs()}")
    assert where(connection, job.id) == ["started"]
    return job


def _reconnect(connection) -> None:
    """Drop the test client's pooled connections to the old server process."""
    connection.connection_pool.disconnect()


# --------------------------------------------------------------------------- restart


def test_redis_restart_while_worker_idle(connection, fq, workers, redis_server):
    proc = _ready_worker(connection, workers, "wr")
    before = [fq.enqueue(tracked, f"b{n}") for n in range(2)]
    _all_finished(connection, before, workers)
    wait_until(lambda: blocked_in_blpop(connection), timeout=15)

    redis_server.restart()  # SHUTDOWN SAVE, then the same port and data
    _reconnect(connection)
    assert proc.poll() is None
    assert all(where(connection, job.id) == ["finished"] for job in before)  # data kept

    after = [fq.enqueue(tracked, f"a{n}") for n in range(3)]
    _all_finished(connection, after, workers)
    assert proc.poll() is None  # reconnected, never crashed
    assert "Redis connection back" in workers.log("wr")
    assert fq.finished_job_registry.count == 5
    assert [run_count(connection, f"a{n}") for n in range(3)] == [1, 1, 1]
    wait_until(lambda: "wr" in worker_names(connection), timeout=10)  # heartbeats resumed


def test_redis_restart_while_worker_runs_a_job(connection, fq, workers, redis_server):
    proc = _ready_worker(connection, workers, "wb")
    held = _hold(connection, fq, workers, "h")
    queued = [fq.enqueue(tracked, f"q{n}") for n in range(3)]
    assert fq.job_ids == [job.id for job in queued]

    redis_server.restart()
    _reconnect(connection)
    assert proc.poll() is None
    # every job survived the restart in its place
    assert where(connection, held.id) in (["started"], ["queue"])
    assert all(where(connection, job.id) == ["queue"] for job in queued)

    release(connection, "h")
    jobs = [held, *queued]
    _all_finished(connection, jobs, workers)
    assert proc.poll() is None
    assert held.return_value() == "h:1"
    assert held.worker_name == "wb"
    assert [run_count(connection, t) for t in ("h", "q0", "q1", "q2")] == [1, 1, 1, 1]
    assert fq.count == 0
    assert fq.started_job_registry.count == 0
    assert fq.finished_job_registry.count == 4


# --------------------------------------------------------------------------- outage


def test_redis_down_for_a_while_worker_waits_and_comes_back(
    connection, fq, workers, redis_server
):
    proc = _ready_worker(connection, workers, "wd")
    first = fq.enqueue(tracked, "f")
    _all_finished(connection, [first], workers)

    redis_server.stop()
    until = time.monotonic() + 1.5
    wait_until(lambda: alive_until(proc, until), timeout=5,
               message="worker died while Redis was down")
    redis_server.start()
    _reconnect(connection)
    assert proc.poll() is None

    jobs = [fq.enqueue(tracked, f"d{n}") for n in range(3)]
    _all_finished(connection, jobs, workers)
    assert proc.poll() is None
    assert "Redis connection back" in workers.log("wd")
    assert [run_count(connection, f"d{n}") for n in range(3)] == [1, 1, 1]
    assert where(connection, first.id) == ["finished"]
    wait_until(lambda: "wd" in worker_names(connection), timeout=10)


# --------------------------------------------------------------------------- dropped links


def _kill_other_clients(connection) -> int:
    return int(connection.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"))


def test_dropped_connections_while_busy_and_idle(connection, fq, workers):
    proc = _ready_worker(connection, workers, "wk")

    # busy: a job in progress and others waiting behind it
    held = _hold(connection, fq, workers, "kh")
    queued = [fq.enqueue(tracked, f"kq{n}") for n in range(3)]
    assert _kill_other_clients(connection) >= 1
    release(connection, "kh")
    _all_finished(connection, [held, *queued], workers)
    assert proc.poll() is None

    # idle: the blocking wait's connection is dropped
    wait_until(lambda: blocked_in_blpop(connection), timeout=15)
    assert _kill_other_clients(connection) >= 1
    wait_until(lambda: blocked_in_blpop(connection), timeout=15,
               message=f"worker never went back to waiting\n{workers.logs()}")
    later = [fq.enqueue(tracked, f"kl{n}") for n in range(3)]
    jobs = [held, *queued, *later]
    _all_finished(connection, jobs, workers)

    assert proc.poll() is None
    # at-least-once: every job ran, none is left started or queued
    tags = ["kh", *(f"kq{n}" for n in range(3)), *(f"kl{n}" for n in range(3))]
    assert all(run_count(connection, tag) >= 1 for tag in tags)
    assert fq.started_job_registry.count == 0
    assert fq.count == 0
    assert fq.finished_job_registry.count == len(jobs)
