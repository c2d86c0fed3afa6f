"""Suspend/resume: a suspended worker takes no new job until resumed or the suspension
expires; hooks run around every job."""

from __future__ import annotations

from django_jobqueue import JobStatus
from django_jobqueue.engine.suspension import is_suspended, resume, suspend
from tests.engine import jobs_worker as jobs
from tests.harness import wait_until


def test_a_suspended_worker_takes_no_job_until_resumed(queue, connection):
    worker = jobs.make_worker([queue], connection, maintenance_interval=0.05)
    suspend(connection)
    assert is_suspended(connection)
    with jobs.in_thread(worker):
        wait_until(lambda: worker._suspended)
        job = queue.enqueue(jobs.add, 1, 2)
        # several maintenance ticks pass while suspended: the job stays queued
        ticks = connection.info("stats")["total_commands_processed"]
        wait_until(lambda: connection.info("stats")["total_commands_processed"] > ticks + 20)
        assert job.get_status() == JobStatus.QUEUED
        resume(connection)
        wait_until(lambda: job.get_status() == JobStatus.FINISHED)


def test_a_suspension_with_a_duration_expires(queue, connection):
    suspend(connection, duration=0.3)
    job = queue.enqueue(jobs.add, 1, 2)
    with jobs.in_thread(jobs.make_worker([queue], connection, maintenance_interval=0.05)):
        wait_until(lambda: job.get_status() == JobStatus.FINISHED, timeout=10)
    assert not is_suspended(connection)


def test_a_suspended_burst_worker_leaves_at_once(queue, connection):
    queue.enqueue(jobs.add, 1, 2)
    suspend(connection)
    assert jobs.make_worker([queue], connection).work(burst=True) is False
    assert queue.count == 1


def test_hooks_run_around_every_job_and_a_failing_hook_is_survived(queue, connection):
    calls = []

    class Hooked(type(jobs.make_worker([queue], connection))):
        def before_job(self, job):
            calls.append(("before", job.id))
            raise RuntimeError("hooks must not take the worker down")

        def after_job(self, job, outcome, succeeded):
            calls.append(("after", job.id, succeeded))

    ok = queue.enqueue(jobs.add, 1, 2)
    bad = queue.enqueue(jobs.raise_error, "no")
    Hooked([queue], connection=connection, wait_timeout=0.2).work(burst=True)
    assert calls == [("before", ok.id), ("after", ok.id, True),
                     ("before", bad.id), ("after", bad.id, False)]
    assert ok.get_status() == JobStatus.FINISHED
