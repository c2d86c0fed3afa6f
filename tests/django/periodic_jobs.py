"""Job functions and a settings module for tests/django/test_periodic.py (imported by a
``runworker`` subprocess as ``tests.django.periodic_jobs``)."""

from __future__ import annotations

from django_jobqueue import get_current_job

RAN = "periodic-test:ran"  # list of "<job id> <periodic name> <tick>"


def record() -> None:
    job = get_current_job()
    tick = int(job.tick_at.timestamp()) if job.tick_at else 0
    job.connection.rpush(RAN, f"{job.id} {job.periodic} {tick}")
