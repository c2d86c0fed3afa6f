"""The worker that ``manage.py runworker`` runs: the engine's worker, with around every job
what Django does around a request (stale database connections closed, query log reset) and
the job signals (signals.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections, reset_queries

from .. import signals
from ..engine.execution import Outcome, retry_granted
from ..engine.job import Job
from ..engine.worker import Worker

logger = logging.getLogger("django_jobqueue.worker")


class DjangoWorker(Worker):
    """A database restart between two jobs costs nothing: each job starts without a
    connection that went stale (``CONN_MAX_AGE`` is honoured, as for requests)."""

    def before_job(self, job: Job) -> None:
        _guarded(reset_queries)  # DEBUG=True would otherwise keep every query ever run
        _guarded(close_old_connections)
        signals.send(signals.job_started, sender=type(self), job=job, worker=self)

    def after_job(self, job: Job, outcome: Outcome, succeeded: bool) -> None:
        try:
            if succeeded:
                signals.send(signals.job_finished, sender=type(self), job=job, worker=self,
                             outcome="finished", exc_info=None, result=outcome.return_value)
            elif retry_granted(job, outcome):  # the job asked to run again later
                signals.send(signals.job_finished, sender=type(self), job=job, worker=self,
                             outcome="retried", exc_info=outcome.exc_info, result=None)
            else:
                text = outcome.exc_info or ""
                signals.send(signals.job_finished, sender=type(self), job=job, worker=self,
                             outcome="failed", exc_info=text, result=None)
                signals.send(signals.job_failed, sender=type(self), job=job, worker=self,
                             exc_info=text, exception=outcome.exception)
        finally:
            _guarded(close_old_connections)


def _guarded(step: Callable[[], Any]) -> None:
    """A database that is down must not stop the worker: the job itself will fail."""
    try:
        step()
    except Exception:
        logger.exception("worker: %s raised", step.__name__)
