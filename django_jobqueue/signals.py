"""Django signals of the job queue, so a project can react to jobs without touching the worker.

* ``job_enqueued(sender=<queue class>, job, queue)``: the job reached Redis (with
  ``COMMIT_MODE`` "on_commit", after the commit).
* ``job_started(sender=<worker class>, job, worker)``: in the worker, just before the job runs.
* ``job_finished(sender=<worker class>, job, worker, outcome, exc_info, result)``: after the
  job and its callbacks; ``outcome`` is ``"finished"``, ``"failed"`` or ``"retried"`` (the
  job asked to be retried: ``RetryLater``, and gets it), ``exc_info`` the error text (the
  traceback) when it failed or asked, else None; ``result`` the return value (None when it
  failed). The worker writes the outcome to Redis just after (with its next request), so a
  receiver reads it from these arguments, not from ``job.refresh()``.
* ``job_failed(sender=<worker class>, job, worker, exc_info, exception)``: after
  ``job_finished`` for a failed job.

Receivers run in the process that sends: a receiver that raises is logged (by Django, on the
``django.dispatch`` logger) and never breaks an enqueue or the worker.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

job_enqueued = Signal()
job_started = Signal()
job_finished = Signal()
job_failed = Signal()


def send(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """``send_robust``: Django logs what a receiver raised (logger ``django.dispatch``)."""
    signal.send_robust(sender, **kwargs)
