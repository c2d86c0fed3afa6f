"""Running a job at enqueue time (``Queue(is_async=False)``) through the worker's own steps."""

from __future__ import annotations

from . import steps
from .exceptions import NoSuchJobError
from .execution import perform, recording, run_callbacks
from .job import Job, JobStatus


def run_inline(job: Job, worker_name: str) -> Job:
    """Run a job the enqueue script recorded as started by ``worker_name``; record its outcome.

    Status, result, meta and ``get_current_job()`` behave exactly as under a worker.
    """
    job.attempts = 1  # what the enqueue script recorded
    outcome = run_callbacks(job, perform(job))
    rec, outcome = recording(job, outcome, worker_name)
    verdict, _ = steps.record(job.connection, rec)
    try:
        job.refresh()
    except NoSuchJobError:  # result_ttl=0: a finished job is deleted at once
        job.set_status(JobStatus.FINISHED if verdict == JobStatus.FINISHED else JobStatus.FAILED)
    return job
