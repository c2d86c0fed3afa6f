"""Nothing is lost when worker processes die or are told to stop.

Real worker subprocesses (``python -m django_jobqueue.engine worker``, lease 2 s) against the
session's real Redis; workers are SIGKILLed / SIGTERMed while busy or idle.
"""

from __future__ import annotations

import signal

import pytest

from django_jobqueue import Job, JobStatus
from tests.engine.jobs_faults import (
    blocked_in_blpop,
    has_started,
    kill_own_process,
    release,
    run_count,
    tracked,
    where,
    worker_names,
)
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(60)

def _status(job: Job) -> JobStatus | None:
    """Re-read the whole job hash (status, worker, lost_count...) and return the status."""
    job.refresh()
    return job.get_status(refresh=False)


def _exactly_one_place(connection, job_id: str, seen: list[str]) -> str:
    places = where(connection, job_id)
    assert len(places) == 1, f"job {job_id} is in {places or 'no place at all'}"
    seen.append(places[0])
    return places[0]


def _hold_job(connection, fq, workers, name: str, tag: str, **options) -> tuple:
    """Start worker ``name`` and have it hold a ``tracked`` job in progress."""
    proc = workers.start(name)
    job = fq.enqueue(tracked, tag, hold_runs=1, job_timeout=60, **options)
    wait_until(lambda: has_started(connection, tag), timeout=15,
               message=f"worker {name} never started job {tag}\n{workers.logs()}")
    assert _status(job) == JobStatus.STARTED
    assert job.worker_name == name
    assert where(connection, job.id) == ["started"]
    return proc, job


# --------------------------------------------------------------------------- SIGKILL


def _kill_busy_worker(connection, fq, workers, tag: str, ends_in: str, **options) -> tuple:
    """Worker wa holds a job, wb is live; SIGKILL wa and watch the job reach ``ends_in``,
    in exactly one place at every observation. Returns (job, places seen)."""
    dead, job = _hold_job(connection, fq, workers, "wa", tag, **options)
    workers.start("wb")
    wait_until(lambda: "wb" in worker_names(connection), timeout=15)

    dead.send_signal(signal.SIGKILL)
    dead.wait(timeout=10)
    seen: list[str] = []
    wait_until(lambda: _exactly_one_place(connection, job.id, seen) == ends_in, timeout=20,
               message=f"job not {ends_in} after its worker died\n{workers.logs()}")
    return job, seen


def test_sigkill_busy_worker_its_job_is_taken_back_and_finished(connection, fq, workers):
    job, seen = _kill_busy_worker(connection, fq, workers, "k1", "finished")

    assert _status(job) == JobStatus.FINISHED
    assert job.return_value() == "k1:2"
    assert run_count(connection, "k1") == 2  # the dead worker's run, then wb's
    assert job.worker_name == "wb"
    assert job.lost_count == 1
    assert job.last_lost_worker == "wa"
    assert job.last_lost_at is not None
    assert seen[0] == "started"  # held by the lease until it lapsed
    assert fq.count == 0


def test_sigkill_busy_worker_on_worker_lost_fail_ends_failed(connection, fq, workers):
    job, seen = _kill_busy_worker(connection, fq, workers, "k2", "failed",
                                  on_worker_lost="fail")

    assert _status(job) == JobStatus.FAILED
    assert "WorkerLost" in job.exc_info
    assert "wa" in job.exc_info
    assert job.lost_count == 1
    assert job.last_lost_worker == "wa"
    assert run_count(connection, "k2") == 1  # not run again
    assert set(seen) == {"started", "failed"}
    assert job.id in fq.failed_job_registry


def test_sigkill_idle_worker_leaves_no_job_behind_and_drops_off(connection, fq, workers):
    proc = workers.start("wi")
    jobs = [fq.enqueue(tracked, f"i{n}") for n in range(3)]
    wait_until(lambda: all(_status(j) == JobStatus.FINISHED for j in jobs), timeout=15)
    wait_until(lambda: blocked_in_blpop(connection), timeout=15)  # idle, waiting for work
    assert "wi" in worker_names(connection)

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    # its record expires with its heartbeat (ttl 2 s + 1)
    wait_until(lambda: "wi" not in worker_names(connection), timeout=15,
               message="a SIGKILLed worker is still listed")
    assert fq.started_job_registry.count == 0
    assert fq.count == 0
    for job in jobs:
        assert where(connection, job.id) == ["finished"]
    assert [run_count(connection, f"i{n}") for n in range(3)] == [1, 1, 1]


# --------------------------------------------------------------------------- SIGTERM


def test_sigterm_busy_worker_finishes_its_job_then_exits(connection, fq, workers):
    proc, job = _hold_job(connection, fq, workers, "ws", "t1")
    waiting = [fq.enqueue(tracked, f"q{n}") for n in range(2)]

    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "warm shutdown requested" in workers.log("ws"), timeout=10)
    assert proc.poll() is None  # still running the job
    assert _status(job) == JobStatus.STARTED

    release(connection, "t1")
    wait_until(lambda: proc.poll() is not None, timeout=15,
               message=f"worker did not exit after its job\n{workers.logs()}")
    assert proc.returncode == 0
    assert _status(job) == JobStatus.FINISHED
    assert job.return_value() == "t1:1"
    assert where(connection, job.id) == ["finished"]
    # the waiting jobs were not touched
    assert fq.job_ids == [j.id for j in waiting]
    for other in waiting:
        assert _status(other) == JobStatus.QUEUED
        assert where(connection, other.id) == ["queue"]
    assert run_count(connection, "q0") == run_count(connection, "q1") == 0
    assert "ws" not in worker_names(connection)


def test_second_sigterm_stops_now_and_gives_the_job_back(connection, fq, workers):
    proc, job = _hold_job(connection, fq, workers, "w2", "t2")

    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "warm shutdown requested" in workers.log("w2"), timeout=10)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    # the job is held for up to 30 s: a prompt exit means it was interrupted
    wait_until(lambda: proc.poll() is not None, timeout=10,
               message=f"second SIGTERM did not stop the worker\n{workers.logs()}")
    assert proc.returncode == 0

    assert _status(job) == JobStatus.QUEUED
    assert where(connection, job.id) == ["queue"]
    assert fq.job_ids == [job.id]
    assert job.id not in fq.failed_job_registry
    assert run_count(connection, "t2") == 1

    workers.start("w3")
    wait_until(lambda: _status(job) == JobStatus.FINISHED, timeout=15,
               message=f"given-back job never finished\n{workers.logs()}")
    assert job.return_value() == "t2:2"
    assert job.worker_name == "w3"
    assert where(connection, job.id) == ["finished"]


def test_sigterm_idle_worker_exits_promptly(connection, fq, workers):
    proc = workers.start("wq")
    job = fq.enqueue(tracked, "e1")
    wait_until(lambda: _status(job) == JobStatus.FINISHED, timeout=15)
    wait_until(lambda: blocked_in_blpop(connection), timeout=15)

    proc.send_signal(signal.SIGTERM)
    # its blocking wait lasts 5 s: leaving well before proves the wait was interrupted
    wait_until(lambda: proc.poll() is not None, timeout=3.5,
               message=f"idle worker ignored SIGTERM\n{workers.logs()}")
    assert proc.returncode == 0
    assert "wq" not in worker_names(connection)  # it deregistered on the way out
    assert where(connection, job.id) == ["finished"]


def test_job_that_kills_every_worker_goes_to_failed_after_three_and_the_queue_moves_on(
    connection, fq, workers
):
    poison = fq.enqueue(kill_own_process)
    healthy = fq.enqueue(tracked, "after-poison")
    for attempt in range(1, 4):  # each worker takes the poison job (back) first and dies
        proc = workers.start(f"victim{attempt}")
        wait_until(lambda p=proc: p.poll() is not None, timeout=15,
                   message=f"worker {attempt} did not die\n{workers.logs()}")
        assert proc.returncode == 1
    survivor = workers.start("survivor")
    wait_until(lambda: _status(poison) == JobStatus.FAILED, timeout=15,
               message=f"poison job never failed\n{workers.logs()}")
    assert "workers lost running it: 3" in poison.exc_info
    assert poison.lost_count == 3
    assert where(connection, poison.id) == ["failed"]
    wait_until(lambda: _status(healthy) == JobStatus.FINISHED, timeout=15)
    assert survivor.poll() is None
    assert poison.id in workers.log("survivor")  # the take-back names the job
