"""Periodic job definitions and job functions for tests/engine/test_periodic*.py, imported
by worker subprocesses as ``tests.engine.jobs_periodic`` (cwd = repository root)."""

from __future__ import annotations

from django_jobqueue import PeriodicJob, get_current_job

QUEUE = "periodic"
TICKS = "periodic:ticks"  # list of "<job id> <tick_at epoch>" appended by each run


def record_tick() -> None:
    job = get_current_job()
    job.connection.rpush(TICKS, f"{job.id} {int(job.tick_at.timestamp())}")


def noop() -> None:
    return None


#: what the pools of the exactly-once test run (``--periodic``); overlap: a tick is never
#: skipped because the previous one has not run yet, so a gap would be a lost tick
EVERY_SECOND = [PeriodicJob("every-second", record_tick, every=1, queue=QUEUE, overlap=True)]
