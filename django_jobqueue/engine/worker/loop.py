"""The worker loop: take a job (atomically recorded as started), run it, record its outcome
together with the take of the next one, repeat.

A processed job costs one round trip when busy. Heartbeats, recovery and scheduling run on
the maintenance thread (lease.py); riding out a lost connection is outages.py; what SIGTERM
and SIGINT do is shutdown.py.

States (:class:`WorkerState`, published in the worker's record)::

    starting ─▶ idle ◀──▶ busy          (take a job / record it and take the next)
                 │ ▲
                 ▼ │
              suspended                (every worker of this Redis suspended: the outcome
                                        in hand is recorded, no job is taken)
    any state ─▶ stopped               (a signal or request_stop; burst: the queues are empty;
                                        max_jobs / max_idle_time reached)
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from redis import Redis

from .. import keys, steps, timeouts
from ..channel import Channel
from ..connections import resolve_connection
from ..exceptions import JobStopRequested, ShutdownRequested, StopRequested
from ..job import Job
from ..periodic.runner import as_runner
from ..queue import Queue
from ..serializers import PickleSerializer, resolve_serializer, using_default_key
from ..states import DEFAULT_MAX_LOST_ATTEMPTS, DEFAULT_RESULT_TTL
from ..utils import refuse_unknown
from .info import WorkerInfo, live_workers
from .lease import LeaseKeeper, Maintenance, Snapshot, TickReport
from .leaving import give_back, record_before, refuse_a_live_namesake, register_death
from .outages import GaveUp, Reconnector
from .running import Running, RunsJobs, WorkerState
from .shutdown import ShutdownSignals

logger = logging.getLogger("django_jobqueue.worker")

DEFAULT_WORKER_TTL = 40  # lease: a dead worker's jobs are taken back within ttl + ttl/4
WORKER_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")
#: RQ's Worker() keyword arguments that tune RQ internals we do not have (accepted, ignored)
RQ_IGNORED = frozenset({
    "death_penalty_class", "default_worker_ttl", "disable_default_exception_handler",
    "job_monitoring_interval", "log_job_description", "prepare_for_work", "queue_class",
    "work_horse_killed_handler",
})
#: RQ's work() keyword arguments we accept and ignore (logging is the application's to set
#: up; the scheduler always runs)
RQ_WORK_IGNORED = frozenset({"logging_level", "date_format", "log_format", "with_scheduler"})


class SlotLink(Protocol):
    """What a pool's slot shares with the other slots of its child (pool/slots.py)."""

    def took(self, more: bool) -> None: ...

    def job_done(self, worker: Worker) -> None: ...

    def wait_for_work(self, worker: Worker) -> None: ...


class Worker(RunsJobs, ShutdownSignals):
    """Serves queues in strict priority order (the first queue with a job wins)."""

    def __init__(
        self,
        queues: Iterable[Queue | str] | Queue | str,
        connection: Redis | None = None,
        name: str | None = None,
        default_result_ttl: int = DEFAULT_RESULT_TTL,
        worker_ttl: float = DEFAULT_WORKER_TTL,
        maintenance_interval: float = 1.0,
        serializer: Any = None,
        wait_timeout: float = 5.0,
        max_backoff: float = 5.0,
        max_lost_attempts: int = DEFAULT_MAX_LOST_ATTEMPTS,
        job_class: type[Job] | None = None,
        exception_handlers: Sequence[Any] | None = None,
        periodic: Any = None,
        **rq_options: Any,
    ) -> None:
        refuse_unknown("Worker", rq_options, RQ_IGNORED)
        if isinstance(queues, Queue | str):
            queues = [queues]
        queues = list(queues)
        if not queues:
            raise ValueError("A worker needs at least one queue")
        if connection is None and isinstance(queues[0], Queue):
            connection = queues[0].connection
        self.connection = resolve_connection(connection)
        self.serializer = resolve_serializer(serializer)
        self.queues = [
            q if isinstance(q, Queue) else Queue(q, connection=self.connection,
                                                 serializer=self.serializer)
            for q in queues
        ]
        self.job_class = job_class or self.queues[0].job_class
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.name = name or f"{self.hostname}.{self.pid}.{os.urandom(3).hex()}"
        if not WORKER_NAME_PATTERN.fullmatch(self.name):
            raise ValueError(f"Invalid worker name {self.name!r}")
        self.default_result_ttl = default_result_ttl
        self.worker_ttl = float(worker_ttl)
        self.maintenance_interval = maintenance_interval
        self.wait_timeout = wait_timeout
        #: a job whose worker died this many times goes to failed instead of running again
        self.max_lost_attempts = max_lost_attempts
        #: RQ's exception handlers: handler(job, exc_type, exc_value, traceback), called in
        #: order after a failure until one returns False
        self.exception_handlers = list(exception_handlers or ())
        #: the periodic jobs this worker enqueues when due (PeriodicJob list or runner)
        self.periodic = as_runner(periodic, self.serializer)
        self.successful_job_count = 0
        self.failed_job_count = 0
        self.total_working_time = 0.0
        self.birth = time.time()
        self._state = WorkerState.STARTING
        self._current: tuple[str, str] = ("", "")  # (job id, queue) holding a lease
        self._pending: steps.Recording | None = None  # the outcome not yet recorded
        self._stop_requested = False
        self._force_stop = False
        self._interruptible = False  # a signal may raise into the job or the blocking wait
        self._keeper: LeaseKeeper | None = None
        self._channel = Channel(self.connection)
        self._reconnector = Reconnector(self.name, max_backoff, self._gives_up)
        self._suspended = False
        self._resumed = threading.Event()
        self._job_thread = threading.get_ident()
        #: the job whose code runs now (a pool's child reports it to its supervisor)
        self.running: Running | None = None
        #: set when this worker is a slot of a pool's child (see pool/slots.py)
        self._link: SlotLink | None = None

    def __repr__(self) -> str:
        return f"Worker({self.name!r}, queues={[q.name for q in self.queues]})"

    @property
    def key(self) -> str:
        return keys.worker(self.name)

    @property
    def queue_names(self) -> list[str]:
        return [q.name for q in self.queues]

    @property
    def state(self) -> str:
        return self._state.value

    def get_state(self) -> str:
        return self._state.value

    def current_job_ids(self) -> tuple[str, str]:
        return self._current

    def stop_job(self, job_id: str) -> bool | None:
        """Stop job ``job_id`` if this worker is running it (an operator's request, relayed
        by the maintenance thread); it is recorded as stopped. Returns True when sent, None
        when the job is this worker's but its code has not started yet (ask again later),
        False when this worker does not hold it."""
        if self._current[0] != job_id:
            return False
        stop = JobStopRequested(f"Job {job_id} stopped by request")
        if not timeouts.interrupt(self._job_thread, job_id, stop):
            return None
        logger.warning("worker %s: stopping job %s on request", self.name, job_id)
        return True

    def describe(self) -> list[Any]:
        """Field/value pairs of this worker's record (refreshed with every heartbeat; the
        job steps keep its ``current_job``)."""
        return [
            "name", self.name, "hostname", self.hostname, "pid", self.pid,
            "queues", ",".join(self.queue_names), "birth", f"{self.birth:.6f}",
            "state", self._state.value,
            "successful_job_count", self.successful_job_count,
            "failed_job_count", self.failed_job_count,
            "total_working_time", f"{self.total_working_time:.6f}",
        ]

    def _snapshot(self) -> Snapshot:
        job_id, queue = self._current
        return Snapshot(job_id, queue, self.describe())

    def _apply(self, report: TickReport) -> None:
        """What the maintenance thread saw, applied to the loop."""
        self._set_suspended(report.suspended)
        if report.stop_job_id:
            sent = self.stop_job(report.stop_job_id)
            self._keeper.retry_stop(report.stop_job_id if sent is None else None)
        for queue, found in report.recovered.items():
            if found.job_ids:
                logger.warning(
                    "worker %s: took back job(s) %s of %s from lost workers: %d requeued, "
                    "%d failed", self.name, ", ".join(found.job_ids), queue, found.requeued,
                    found.failed,
                )

    def _set_suspended(self, suspended: bool) -> None:
        """What Redis says (see suspension.py)."""
        if suspended != self._suspended:
            logger.warning("worker %s: %s", self.name,
                           "suspended: no new jobs until resumed" if suspended else "resumed")
            self._suspended = suspended
            if suspended:
                self._resumed.clear()
            else:
                self._resumed.set()

    # --- the loop --------------------------------------------------------------------

    def work(self, burst: bool = False, max_jobs: int | None = None,
             max_idle_time: float | None = None, dequeue_strategy: Any = "default",
             **rq_options: Any) -> bool:
        """Process jobs until stopped; with ``burst``, until the queues are empty (a paused
        queue counts as empty: its jobs stay queued); with
        ``max_jobs`` or ``max_idle_time`` (seconds without a job), until that is reached.

        Returns whether any job was processed.
        """
        refuse_unknown("work", rq_options, RQ_WORK_IGNORED)
        if str(getattr(dequeue_strategy, "value", dequeue_strategy)) != "default":
            raise ValueError(f"dequeue_strategy {dequeue_strategy!r}: this worker serves "
                             "its queues in strict priority order only ('default')")
        refuse_a_live_namesake(self.connection, self.name, self.hostname, self.pid,
                               self.worker_ttl)
        self._warn_if_unsigned()
        self._install_signal_handlers()
        self._job_thread = threading.get_ident()
        self._keeper = LeaseKeeper(self.connection, self.name, self.queue_names,
                                   self.worker_ttl, self.max_lost_attempts, self._snapshot)
        self._keeper.periodic = as_runner(self.periodic, self.serializer,
                                          self.maintenance_interval)
        maintenance = Maintenance(self._keeper, self.maintenance_interval, self._apply)
        processed = 0
        try:
            self._state = WorkerState.IDLE
            self._apply(self._call(lambda: self._keeper.tick(force=True)))
            maintenance.start()
            logger.info("worker %s: serving %s", self.name, ", ".join(self.queue_names))
            processed = self._loop(burst, max_jobs, max_idle_time)
        except GaveUp:
            pass
        except StopRequested:  # a forced stop: the running job goes back (below)
            self._current, self._pending = ("", ""), None
        finally:
            self._state = WorkerState.STOPPED
            self._flush_pending()
            self._channel.close()
            maintenance.stop()
            # what this name still holds: the job a forced stop interrupted, or one a take
            # whose reply was lost took as the worker was leaving
            give_back(self.connection, [self.name], self.queue_names)
            register_death(self.connection, self.name)
            self._restore_signal_handlers()
        logger.info("worker %s: stopped after %d job(s)", self.name, processed)
        return processed > 0

    def serve(self, link: SlotLink, burst: bool = False) -> int:
        """Run as one slot of a pool's child: the loop alone. The child's supervisor does
        what ``work`` does around it (heartbeats, leases, recovery, scheduling, signals)
        and ``link`` carries what the slot and its child share. Returns the jobs processed."""
        self._link = link
        self._job_thread = threading.get_ident()
        self._state = WorkerState.IDLE
        try:
            return self._loop(burst, None, None, slot=True)
        except GaveUp:
            return 0
        finally:
            self._state = WorkerState.STOPPED
            self._flush_pending()
            self._channel.close()

    def _loop(self, burst: bool, max_jobs: int | None, max_idle_time: float | None,
              slot: bool = False) -> int:
        processed = 0
        idle_since = time.monotonic()
        take = steps.Take(self.name, self.worker_ttl, self.queue_names)
        while not self._stop_requested:
            if self._suspended:
                if self._pending is not None:
                    self._record(then=None)  # the outcome in hand, then wait for resume
                if burst:
                    break
                self._state = WorkerState.SUSPENDED
                self._resumed.wait(timeout=self.maintenance_interval)
                continue
            if max_jobs is not None and processed >= max_jobs:
                break
            if self._pending is not None:
                taken = self._record(then=take)
            else:
                taken = self._call(lambda: steps.take(self._channel, take))
            if taken is not None:
                self._current = (taken.job_id, taken.queue)  # a stop request may name it now
                if self._link is not None:
                    self._link.took(taken.more)
                self._run(taken)
                processed += 1
                idle_since = time.monotonic()
                if self._link is not None:
                    self._link.job_done(self)
                continue
            self._state = WorkerState.IDLE
            if burst and slot:  # the pool's supervisor moves due scheduled jobs
                break
            if burst:  # a due scheduled job may be waiting: one tick moves it
                report = self._call(lambda: self._keeper.tick(force=True))
                self._apply(report)
                if not report.moved:
                    break
            elif max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                break
            else:
                self._wait_for_work()
        return processed

    def _call(self, call: Any) -> Any:
        return self._reconnector.call(call)

    def _gives_up(self) -> bool:
        """While Redis is unreachable: a forced stop gives up; a warm one only once no
        outcome is waiting to be recorded."""
        return self._force_stop or (self._stop_requested and self._pending is None)

    def _record(self, then: steps.Take | None) -> steps.Taken | None:
        """Record the outcome in hand (and, with ``then``, take the next job), sent again as
        it is until Redis answers (steps are safe to repeat)."""
        rec = self._pending
        verdict, taken = self._call(lambda: steps.record(self._channel, rec, then))
        self._pending, self._current = None, ("", "")
        if verdict == "lost":
            logger.warning("worker %s: the outcome of job %s was not recorded: its lease had "
                           "lapsed and it was taken back", self.name, rec.job_id)
        return taken

    def blocking_wait_timeout(self) -> float:
        """The idle wait, ended before the client's own socket timeout would cut it off
        (redis-py 8 sets one by default, reported as ``orig_socket_timeout``)."""
        options = self.connection.get_connection_kwargs()
        socket_timeout = options.get("socket_timeout") or options.get("orig_socket_timeout")
        if socket_timeout:
            return max(0.1, min(self.wait_timeout, socket_timeout - 1))
        return self.wait_timeout

    def _wait_for_work(self) -> None:
        """Block (no polling) until some queue gets a job, or the wait times out (a pool's
        slot waits as its child says: one slot of a child listens, the others park)."""
        if self._link is not None:
            self._link.wait_for_work(self)
        else:
            self.listen()

    def listen(self, *wake_keys: str) -> bool:
        """One blocking wait on the queues' wake-up lists (and ``wake_keys``); whether a
        token came (rather than the timeout or a signal)."""
        timeout = self.blocking_wait_timeout()
        notify_keys = [keys.notify(name) for name in self.queue_names] + list(wake_keys)
        self._interruptible = True  # from here a signal raises ShutdownRequested...
        try:
            if self._stop_requested:  # ...and one that came just before is seen here
                return False
            popped = self._call(lambda: self.connection.blpop(notify_keys, timeout=timeout))
            return popped is not None
        except ShutdownRequested:
            return False
        finally:
            self._interruptible = False

    def _flush_pending(self) -> None:
        rec = self._pending
        if rec is None:
            return
        if record_before(self.connection, rec, self.worker_ttl):
            self._pending, self._current = None, ("", "")
            return
        logger.error("worker %s: could not record job %s; its lease will lapse and another "
                     "worker will run it again", self.name, rec.job_id)

    def _warn_if_unsigned(self) -> None:
        """With the public default key, anyone who can write to this Redis can make this
        worker unpickle what they like."""
        serializers = {self.serializer, *(q.serializer for q in self.queues)}
        if using_default_key() and PickleSerializer in serializers:
            logger.warning(
                "worker %s: job payloads are checked against the public default signing key: "
                "anyone who can write to this Redis can run code in this worker. Set "
                "JOBQUEUE_SIGNING_KEY (or --signing-key-file, or set_signing_key()), the same "
                "in every process that enqueues", self.name)

    # --- other workers ---------------------------------------------------------------

    @classmethod
    def all(cls, connection: Redis | None = None, queue: Queue | None = None) -> list[WorkerInfo]:
        """Live workers (a worker whose record expired has dropped off)."""
        return live_workers(connection, queue.name if queue is not None else None)

    @classmethod
    def count(cls, connection: Redis | None = None, queue: Queue | None = None) -> int:
        return len(cls.all(connection=connection, queue=queue))


SimpleWorker = Worker
