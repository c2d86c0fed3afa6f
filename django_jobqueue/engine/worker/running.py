"""Running one job a take handed over, for the worker loop: load it (a corrupt hash fails
that job, not the worker), the worker's hooks, the job itself, its callbacks, RQ's exception
handlers, and the recording of its outcome (sent with the worker's next request)."""

from __future__ import annotations

import logging
import time
from enum import Enum
from typing import Any, NamedTuple

from .. import middleware, steps
from ..execution import Outcome, perform, recording, run_callbacks
from ..job import Job
from ..states import DEFAULT_TIMEOUT

logger = logging.getLogger("django_jobqueue.worker")


class WorkerState(str, Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    SUSPENDED = "suspended"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


class Running(NamedTuple):
    """A job whose code runs now: what a pool's supervisor needs to hold its hard limit."""

    job_id: str
    queue: str
    attempt: int
    started_at: float  # wall clock
    timeout: float  # seconds; <= 0: none
    #: what the job's function ended as ('success', 'failure', 'stopped'; '' while it runs):
    #: once it ended only its callback runs, which an operator's stop no longer concerns
    #: (a pool's supervisor does not kill its child for one)
    ended_as: str = ""


class RunsJobs:
    """Mixed into the worker (loop.py), which owns the attributes used here."""

    name: str
    connection: Any
    serializer: Any
    job_class: type[Job]
    default_result_ttl: int
    exception_handlers: list[Any]
    successful_job_count: int
    failed_job_count: int
    total_working_time: float
    running: Running | None
    _pending: steps.Recording | None
    _interruptible: bool
    _state: Any

    def before_job(self, job: Job) -> None:
        """Hook: runs in the worker before each job (the Django layer closes stale database
        connections and sends job_started here)."""

    def after_job(self, job: Job, outcome: Outcome, succeeded: bool) -> None:
        """Hook: runs after each job and its callbacks, before its outcome is written (which
        goes with the worker's next request)."""

    def _run(self, taken: steps.Taken) -> None:
        job_id, queue_name = taken.job_id, taken.queue
        self._state = WorkerState.BUSY
        decided = False
        try:
            job = self.job_class.from_fields(job_id, taken.fields, self.connection,
                                             serializer=self.serializer)
            job.origin = queue_name
        except Exception as exc:  # a corrupt hash: fail this job, keep working
            job = self.job_class(job_id, connection=self.connection, serializer=self.serializer)
            job.origin = queue_name
            job.attempts = _attempts(taken.fields)
            now = time.time()
            outcome = Outcome(ok=False, started=now, ended=now, exception=exc, retryable=False,
                              exc_info=f"Corrupt job {job_id} in Redis: "
                                       f"{type(exc).__name__}: {exc}")
        else:
            timeout = job.timeout if job.timeout is not None else DEFAULT_TIMEOUT
            self.running = Running(job_id, queue_name, job.attempts, time.time(),
                                   float(timeout))
            self._call_hook(self.before_job, job)
            with middleware.running(job):
                self._interruptible = True
                try:
                    outcome = perform(job, keep_alarm_handler=True)
                finally:
                    self._interruptible = False
                self.running = self.running._replace(
                    ended_as="success" if outcome.ok else "stopped" if outcome.stopped
                    else "failure")
                outcome = run_callbacks(job, outcome, self._arm_callback)
                outcome = self._decide(job, outcome)
                decided = True
        if not decided:  # a corrupt job: decided without running
            outcome = self._decide(job, outcome)
        rec = self._pending
        asked = rec.retry and outcome.retry_request is not None  # a retry asked for: no error
        if not outcome.ok and not asked:
            self._handle_exception(job, outcome)
        self._call_hook(self.after_job, job, outcome, outcome.ok)
        self.total_working_time += outcome.duration
        self._state = WorkerState.IDLE
        if outcome.ok:
            self.successful_job_count += 1
            logger.info("job %s %s finished in %.1f ms", job_id, job.func_name,
                        outcome.duration * 1000, extra=self._fields(job, outcome, "finished"))
            return
        retries = ""
        if outcome.stopped:
            retries = " (stopped on request)"
        elif rec.retry:
            n = job.retry_max - (job.retries_left or 0) + 1
            retries = f" (retry {n} of {job.retry_max} in {rec.retry_delay:.1f} s)"
        elif outcome.retry_note:
            retries = f" (not retried: {outcome.retry_note})"
        if asked:
            logger.info("job %s %s asked to be retried after %.1f ms%s", job_id,
                        job.func_name, outcome.duration * 1000, retries,
                        extra=self._fields(job, outcome, "retried"))
            return
        self.failed_job_count += 1
        lines = (outcome.exc_info or "").strip().splitlines() or ["(no error text)"]
        ending = "stopped" if outcome.stopped else "retried" if rec.retry else "failed"
        exc = outcome.exception
        # a failure for good is an ERROR with its traceback (logging-based alerting sees
        # it); a failure that will be retried, or an operator's stop, a WARNING
        logger.log(logging.ERROR if ending == "failed" else logging.WARNING,
                   "job %s %s failed in %.1f ms%s: %s", job_id, job.func_name,
                   outcome.duration * 1000, retries, lines[-1][:200],
                   exc_info=(type(exc), exc, exc.__traceback__) if ending == "failed"
                   and exc is not None else None,
                   extra=self._fields(job, outcome, ending))

    def _fields(self, job: Job, outcome: Outcome, ending: str) -> dict[str, Any]:
        """The per-job line's ``extra`` fields (logs.JOB_FIELDS)."""
        return {"job_id": job.id, "job_func": job.func_name, "queue": job.origin,
                "outcome": ending, "duration_ms": round(outcome.duration * 1000, 3),
                "attempt": job.attempts, "worker": self.name}

    def _decide(self, job: Job, outcome: Outcome) -> Outcome:
        """What records the outcome (kept for the worker's next request), told to the
        middleware; returns the outcome recorded."""
        self.running = None
        self._pending, outcome = recording(job, outcome, self.name, self.default_result_ttl)
        middleware.ended(job, outcome, self._pending)
        return outcome

    def _arm_callback(self, timeout: float) -> None:
        """A callback starts: a pool's hard limit now ends at the callback's own timeout."""
        if self.running is not None:
            ran = time.time() - self.running.started_at
            self.running = self.running._replace(timeout=ran + float(timeout))

    def _handle_exception(self, job: Job, outcome: Outcome) -> None:
        exc = outcome.exception
        if exc is None:
            return
        for handler in self.exception_handlers:
            try:
                if handler(job, type(exc), exc, exc.__traceback__) is False:
                    return
            except Exception:
                logger.exception("worker %s: exception handler %r raised", self.name, handler)

    def _call_hook(self, hook: Any, *args: Any) -> None:
        try:
            hook(*args)
        except Exception:  # a hook must never take the worker down
            logger.exception("worker %s: %s raised", self.name, hook.__name__)

def _attempts(fields: dict[bytes, bytes]) -> int:
    try:
        return int(fields.get(b"attempts") or 0)
    except ValueError:
        return 0
