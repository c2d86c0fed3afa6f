"""The supervisor's side of its children: starting one (fork), what it last reported, and
what becomes of its jobs when it ends (given back, taken back as lost, or failed by the
hard limit that killed it)."""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

from redis import Redis

from .. import fields, keys, middleware, retries, steps
from ..exceptions import DeserializationError, JobTimeoutException, NoSuchJobError
from ..job import Job
from ..results import Result, results_kept
from ..states import JobStatus
from .child import ChildSpec, Report, WorkerFactory, child_main

logger = logging.getLogger("django_jobqueue.worker")

NO_REPORT = Report(running=(), successful=0, failed=0, working_time=0.0, state="starting")


@dataclass(frozen=True)
class Killed:
    """A job the supervisor killed its child for, and how it is recorded."""

    slot: str
    job_id: str
    queue: str
    attempt: int
    started_at: float
    exc_info: str
    final: JobStatus  # FAILED (past its timeout: a retry policy applies) or STOPPED


def callback_killed(slot: str, job_id: str, queue: str, attempt: int, started: float,
                     ended_as: str, grace: float, handle: ChildHandle) -> Killed:
    """A job killed in its callback: a stopped one stays stopped; a success or failure is
    recorded as a failure by JobTimeoutException (the job's own exception, for a failure,
    was in the child: its Retry then decides on the timeout)."""
    text = (f"job {job_id} was killed: its on_{ended_as} callback was still running "
            f"{grace:g} s past its timeout (pool child {handle.name}, pid {handle.pid})")
    if ended_as == "stopped":
        return Killed(slot, job_id, queue, attempt, started,
                      f"JobStopRequested: job {job_id} was stopped on request; {text}",
                      JobStatus.STOPPED)
    return Killed(slot, job_id, queue, attempt, started, f"JobTimeoutException: {text}",
                  JobStatus.FAILED)


@dataclass
class ChildHandle:
    spec: ChildSpec
    pid: int
    conn: Connection
    birth: float = field(default_factory=time.time)
    report: Report = NO_REPORT
    #: set once the supervisor killed it for a hard limit
    killed: list[Killed] | None = None
    #: exit status once reaped, until its jobs are dealt with (Redis may be unreachable)
    status: int | None = None
    asked_to_leave: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    def slot_name(self, index: int) -> str:
        return self.spec.slot_names[index]

    def read_reports(self) -> None:
        """Take in every message the child sent (the last report wins)."""
        try:
            while self.conn.poll():
                message = self.conn.recv()
                if isinstance(message, Report):
                    self.report = message
        except (EOFError, OSError):
            pass

    def send(self, *message: Any) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            pass  # it is gone: reaping it deals with it

    def kill(self, killed: list[Killed]) -> None:
        self.killed = killed
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def held_jobs(self) -> list[tuple[str, str, str]]:
        """(job id, queue, slot name) of every job it reported holding (from its take until
        its outcome is recorded: the span its lease must cover)."""
        return [(job, queue, self.slot_name(i)) for i, job, queue in self.report.held]

    @property
    def leaving(self) -> bool:
        """It will not take more jobs (asked to leave, recycling, or killed)."""
        return self.asked_to_leave or bool(self.report.leaving) or self.killed is not None

    def ended_cleanly(self) -> bool:
        """Exit status 0 after its final report: a job calling ``os._exit(0)`` is a crash."""
        return (self.status is not None and os.waitstatus_to_exitcode(self.status) == 0
                and self.report.done)


def start_child(spec: ChildSpec, factory: WorkerFactory, inherited: list[Connection],
                after_fork_in_child: Any = None) -> ChildHandle:
    """Fork a child that runs ``spec``; ``inherited`` are the supervisor's pipes to its
    other children (closed in the new one)."""
    ours, theirs = Pipe()
    pid = os.fork()
    if pid == 0:  # the child
        ours.close()
        for conn in inherited:
            conn.close()
        if after_fork_in_child is not None:
            after_fork_in_child()
        child_main(spec, theirs, factory)  # never returns
    theirs.close()
    return ChildHandle(spec, pid, ours)


def describe_exit(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"died (killed by {name})"
    return f"died (exit code {code})"


def settle(connection: Redis, handle: ChildHandle, queues: list[str], serializer: Any,
           losses_allowed: int, forced: bool) -> None:
    """Deal with the jobs of a child that ended (raises when Redis cannot be reached: call
    again later; every step here is safe to repeat)."""
    names = list(handle.spec.slot_names)
    status = handle.status if handle.status is not None else 0
    if handle.killed:
        for killed in handle.killed:
            _record_killed(connection, killed, serializer)
    if handle.killed is not None or forced or handle.ended_cleanly():
        # what it still holds goes back with no loss counted: the other jobs of a child
        # killed for a hard limit, a forced stop's, or a take lost as it was leaving
        for queue in queues:
            for job_id in steps.give_back(connection, queue, *names).job_ids:
                logger.warning("pool child %s: job %s is back on its queue", handle.name,
                               job_id)
        return
    reason = f"(pool child {handle.name}, pid {handle.pid}) {describe_exit(status)}"
    if os.waitstatus_to_exitcode(status) == 0:
        reason += " before it was done (os._exit in a job?)"
    for queue in queues:
        found = steps.take_back_lost(connection, queue, names, losses_allowed, reason)
        if found.job_ids:
            logger.warning("pool child %s %s: its job(s) %s: %d back on %s, %d failed",
                           handle.name, describe_exit(status), ", ".join(found.job_ids),
                           found.requeued, queue, found.failed)


def _record_killed(connection: Redis, killed: Killed, serializer: Any) -> None:
    now = time.time()
    entry_type = Result.Type.STOPPED if killed.final == JobStatus.STOPPED else Result.Type.FAILED
    entry = Result.payload(serializer, entry_type, None, killed.exc_info, killed.slot,
                           killed.started_at, now, attempt=killed.attempt)
    decision, retry_max = retries.NO_RETRY, 0
    if killed.final == JobStatus.FAILED:  # past its timeout: its Retry applies
        decision, retry_max = _killed_retry(connection, killed)
    rec = steps.Recording(job_id=killed.job_id, queue=killed.queue, worker=killed.slot,
                          attempt=killed.attempt, entry=entry, succeeded=False,
                          exc_info=killed.exc_info, retry=decision.retry,
                          retry_delay=decision.delay, final=killed.final,
                          keep=results_kept(retry_max), duration=now - killed.started_at)
    if middleware.installed():  # before the record: a result_ttl of 0 would delete the job
        try:
            job = Job.fetch(killed.job_id, connection=connection, serializer=serializer)
        except (NoSuchJobError, DeserializationError):
            job = None
        middleware.killed(job, rec)
    verdict, _ = steps.record(connection, rec)
    logger.error("job %s: %s (%s)", killed.job_id, killed.exc_info.splitlines()[0], verdict)


def _killed_retry(connection: Redis, killed: Killed) -> tuple[retries.Decision, int]:
    """The job's Retry decision for a run its hard limit ended (one HMGET, on this rare
    path; ``on`` sees a JobTimeoutException), and its Retry max."""
    raw = connection.hmget(keys.job(killed.job_id), retries.FIELDS)
    values = fields.decode_values(retries.FIELDS, raw)  # lenient: corrupt reads as none
    policy = retries.stored_policy(values)
    timeout = JobTimeoutException(killed.exc_info.splitlines()[0] if killed.exc_info else "")
    return (retries.decide(policy, values.get("retries_left"), timeout, job_id=killed.job_id),
            values.get("retry_max") or 0)
