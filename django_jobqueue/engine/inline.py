"""Running a job at enqueue time (``Queue(is_async=False)``) through the worker's own steps."""

from __future__ import annotations

from .exceptions import NoSuchJobError
from .execution import perform, record_call, run_callbacks
from .job import Job, JobStatus


def run_inline(job: Job, worker_name: str) -> Job:
    """Run a job the enqueue script recorded as started by ``worker_name``; record its outcome.

    Status, result, meta and ``get_current_job()`` behave exactly as under a worker.
    """
    outcome = run_callbacks(job, perform(job))
    (script, args), outcome = record_call(job, outcome, worker_name)
    outcome_reply = script(job.connection, *args)[0]
    try:
        job.refresh()
    except NoSuchJobError:  # result_ttl=0: a finished job is deleted at once
        job.set_status(JobStatus.FINISHED if outcome_reply == 1 else JobStatus.FAILED)
    return job
