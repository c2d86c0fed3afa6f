"""Sentry error reporting for jobs (issue 12), following sentry-sdk's own RQ and Celery
integrations: each execution runs in its own isolation scope (breadcrumbs cleared, tags
set), a failed job is captured as an unhandled exception of mechanism ``jobqueue``, and its
arguments go in only as sentry-sdk's data settings allow.

It does nothing until the app calls ``sentry_sdk.init(...)`` (each hook asks
``get_client().is_active()`` first). What it reports:

- a failure that is final (no retry follows), once; ``report="every"`` (or the env var
  ``JOBQUEUE_SENTRY_REPORT=every`` for the default instance) reports each failed attempt;
- never a success, a retry the job asked for (``RetryLater``: control flow, as Celery's
  ``Retry``), nor an operator's stop (a decision, not a fault in the job);
- a job whose pool child was killed for its hard limit, from the pool's supervisor (the
  ``killed`` hook: the child is gone), grouped per function as RQ groups its timeouts.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import sentry_sdk

from .. import middleware
from ..exceptions import JobTimeoutException
from ..middleware import Middleware
from ..states import JobStatus

logger = logging.getLogger("django_jobqueue.middleware")

REPORTS = ("final", "every")
ENV_REPORT = "JOBQUEUE_SENTRY_REPORT"
MECHANISM = "jobqueue"
CONTEXT = "jobqueue-job"  # as RQ's "rq-job" and Celery's "celery-job"
#: what sentry-sdk puts for data it may not send (sentry_sdk.utils.SENSITIVE_DATA_SUBSTITUTE)
FILTERED = "[Filtered]"
#: error log lines of the engine that say again what this middleware reports: their
#: logging events are dropped (their breadcrumbs stay), as sentry's RQ and Celery
#: integrations ignore their workers' job loggers
_ENGINE_LOGGER = "django_jobqueue.worker"
_DUPLICATE_LOGS = frozenset({
    "job %s %s failed in %.1f ms%s: %s",  # worker/running.py: a failure for good (ERROR)
    "job %s: %s (%s)",  # pool/children.py _record_killed: a kill recorded
    "pool %s: killing child %s (pid %d): %s",  # pool/supervisor.py: the kill itself
})

_NOTHING = contextlib.nullcontext()


class SentryMiddleware(Middleware):
    """Reports failed jobs to Sentry; ``report``: ``"final"`` (default) or ``"every"``
    attempt (None: the env var ``JOBQUEUE_SENTRY_REPORT``, else ``"final"``)."""

    def __init__(self, report: str | None = None) -> None:
        if report is None:
            report = os.environ.get(ENV_REPORT, "").strip().lower() or "final"
            if report not in REPORTS:
                logger.warning("%s=%r: not one of %s; reporting final failures", ENV_REPORT,
                               report, ", ".join(REPORTS))
                report = "final"
        elif report not in REPORTS:
            raise ValueError(f"report={report!r}: one of {', '.join(REPORTS)}")
        self.every = report == "every"
        _drop_duplicate_log_events()

    def __repr__(self) -> str:
        return f"SentryMiddleware(report={'every' if self.every else 'final'!r})"

    def running(self, job: Any) -> contextlib.AbstractContextManager:
        if not sentry_sdk.get_client().is_active():
            return _NOTHING
        return _job_scope(job)

    def ended(self, job: Any, outcome: Any, recording: Any) -> None:
        if recording.succeeded or recording.final == JobStatus.STOPPED:
            return
        if recording.retry and (not self.every or outcome.retry_request is not None):
            return
        if not sentry_sdk.get_client().is_active():
            return
        error = outcome.exception
        if error is None:  # not expected for a failure; its text then
            error = RuntimeError((outcome.exc_info or "job failed").strip().splitlines()[-1])
        _capture(error, job, recording)

    def flush(self) -> None:
        """Before a pool child's ``os._exit`` (no atexit flush runs): send what is queued."""
        client = sentry_sdk.get_client()
        if client.is_active():
            client.flush(timeout=2.0)

    def killed(self, job: Any, recording: Any) -> None:
        if recording.final == JobStatus.STOPPED or (recording.retry and not self.every):
            return
        if not sentry_sdk.get_client().is_active():
            return
        text = recording.exc_info.splitlines()[0] if recording.exc_info else ""
        prefix = "JobTimeoutException: "
        error = JobTimeoutException(text[len(prefix):] if text.startswith(prefix) else text)
        _capture(error, job, recording)


@contextlib.contextmanager
def _job_scope(job: Any) -> Iterator[None]:
    """One execution's own isolation scope (what the job's code sets with
    ``sentry_sdk.set_tag`` or adds as breadcrumbs stays with it), with the job's tags and
    context on whatever it captures."""
    with sentry_sdk.isolation_scope() as scope:
        scope.clear_breadcrumbs()
        scope.set_tags(_tags(job, None))
        if job.func_name:
            scope.set_transaction_name(job.func_name, source="task")
        scope.add_event_processor(_event_processor(job, None))
        yield


def _capture(error: BaseException, job: Any, recording: Any) -> None:
    with sentry_sdk.new_scope() as scope:
        scope.set_tags(_tags(job, recording))
        scope.add_event_processor(_event_processor(job, recording, captured=True))
        sentry_sdk.capture_exception(error)


def _tags(job: Any, recording: Any) -> dict[str, str]:
    if recording is not None:
        job_id, queue = recording.job_id, recording.queue
        attempt, worker = recording.attempt, recording.worker
    else:
        job_id, queue, attempt, worker = job.id, job.origin, job.attempts, job.worker_name
    tags = {"jobqueue.queue": queue, "jobqueue.job_id": job_id,
            "jobqueue.attempt": str(attempt)}
    if worker:
        tags["jobqueue.worker"] = worker
    func_name = job.func_name if job is not None else None
    if func_name:
        tags["jobqueue.function"] = func_name
    return tags


def _event_processor(job: Any, recording: Any, captured: bool = False) -> Any:
    """Adds the job's context (arguments only as sentry-sdk allows, read when an event is
    sent); on the event this middleware captures, its mechanism and a timeout's
    fingerprint."""

    def processor(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        try:
            event.setdefault("contexts", {})[CONTEXT] = _context(job, recording)
            if captured:
                _mark_unhandled(event)
                exc_info = hint.get("exc_info")
                if exc_info and issubclass(exc_info[0], JobTimeoutException):
                    func_name = job.func_name if job is not None else None
                    event["fingerprint"] = [MECHANISM, "JobTimeoutException",
                                            func_name or "{{ default }}"]
        except Exception:  # never lose the event for its decoration
            logger.exception("sentry: cannot describe job %s", job and job.id)
        return event

    return processor


def _context(job: Any, recording: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if recording is not None:
        found.update(job_id=recording.job_id, queue=recording.queue,
                     attempt=recording.attempt, worker=recording.worker,
                     status=str(recording.final), retry=recording.retry)
        if recording.retry:
            found["retry_in_seconds"] = round(recording.retry_delay, 3)
    if job is None:
        return found
    found.setdefault("job_id", job.id)
    found.setdefault("queue", job.origin)
    found.setdefault("attempt", job.attempts)
    found.setdefault("worker", job.worker_name)
    found["function"] = job.func_name
    if job.description:
        found["description"] = job.description
    if job.retry_max:
        found["retries_left"] = job.retries_left
        found["retry_max"] = job.retry_max
    for name in ("enqueued_at", "started_at"):
        value = getattr(job, name, None)
        if value is not None:
            found[name] = value.isoformat()
    found.update(_arguments(job))
    return found


def _arguments(job: Any) -> dict[str, Any]:
    """Sentry's rule for task arguments (its RQ and Celery integrations): the
    ``data_collection`` option's ``queues`` when the app set that option, else
    ``send_default_pii``; arguments it may not send read ``[Filtered]``."""
    client = sentry_sdk.get_client()
    collection = client.options.get("data_collection") or {}
    if collection.get("provided_by_user"):
        if not collection.get("queues"):
            return {}
    elif not client.should_send_default_pii():
        return {"args": FILTERED, "kwargs": FILTERED}
    try:
        return {"args": list(job.args), "kwargs": dict(job.kwargs)}
    except Exception as exc:  # unreadable call data: the failure says why
        return {"args": f"<unreadable: {type(exc).__name__}>", "kwargs": None}


def _mark_unhandled(event: dict[str, Any]) -> None:
    """The job's exception was not handled by its code: mechanism ``jobqueue``, unhandled
    (as sentry's task-queue integrations mark theirs); chained ones keep theirs."""
    for value in (event.get("exception") or {}).get("values") or ():
        mechanism = value.get("mechanism")
        if mechanism is None or mechanism.get("type") == "generic":
            value["mechanism"] = {**(mechanism or {}), "type": MECHANISM, "handled": False}


_dedupe_added = False


def _drop_duplicate_log_events() -> None:
    """Once per process: drop the logging events of engine error lines that repeat what
    the middleware reports (while one is installed), on sentry's global scope."""
    global _dedupe_added
    if _dedupe_added:
        return
    _dedupe_added = True
    sentry_sdk.get_global_scope().add_event_processor(_drop_duplicate_log)


def _drop_duplicate_log(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    if event.get("logger") != _ENGINE_LOGGER:
        return event
    if (event.get("logentry") or {}).get("message") not in _DUPLICATE_LOGS:
        return event
    if any(isinstance(found, SentryMiddleware) for found in middleware.installed()):
        return None
    return event
