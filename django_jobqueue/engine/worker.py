"""The worker loop: dequeue (atomically recorded as started), execute, record, repeat.

A processed job costs one round trip when busy: the outcome of one job and the dequeue of the
next go together. Heartbeats, recovery and scheduling run on the maintenance thread.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import signal
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import keys, scripts, timeouts
from .channel import Channel
from .connections import resolve_connection
from .exceptions import JobStopRequested, ShutdownRequested, StopRequested
from .execution import Outcome, perform, record_call, run_callbacks
from .job import DEFAULT_RESULT_TTL, Job
from .maintenance import Maintenance
from .queue import Queue
from .serializers import resolve_serializer
from .utils import decode, decode_text, from_timestamp

logger = logging.getLogger("django_jobqueue.worker")

DEFAULT_WORKER_TTL = 40  # lease: a dead worker's jobs are taken back within ttl + ttl/4
WORKER_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")
_LOST_CONNECTION = (RedisConnectionError, RedisTimeoutError, OSError)


class Worker:
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
        max_lost_attempts: int = 3,
        **_: Any,
    ) -> None:
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
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.name = name or f"{self.hostname}.{self.pid}.{os.urandom(3).hex()}"
        if not WORKER_NAME_PATTERN.fullmatch(self.name):
            raise ValueError(f"Invalid worker name {self.name!r}")
        self.default_result_ttl = default_result_ttl
        self.worker_ttl = float(worker_ttl)
        self.maintenance_interval = maintenance_interval
        self.wait_timeout = wait_timeout
        self.max_backoff = max_backoff
        #: a job whose worker died this many times goes to failed instead of running again
        self.max_lost_attempts = max_lost_attempts
        self.successful_job_count = 0
        self.failed_job_count = 0
        self.total_working_time = 0.0
        self.birth = time.time()
        self._state = "starting"
        self._current: tuple[str, str] = ("", "")  # (job id, queue) holding a lease
        self._pending: scripts.Call | None = None  # the outcome not yet recorded
        self._stop_requested = False
        self._force_stop = False
        self._interruptible = False  # a signal may raise into the job or the blocking wait
        self._maintenance: Maintenance | None = None
        self._channel = Channel(self.connection)
        self._suspended = False
        self._resumed = threading.Event()

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
        return self._state

    def get_state(self) -> str:
        return self._state

    def set_suspended(self, suspended: bool) -> None:
        """Called by the maintenance thread with what Redis says (see suspension.py)."""
        if suspended != self._suspended:
            logger.warning("worker %s: %s", self.name,
                           "suspended: no new jobs until resumed" if suspended else "resumed")
            self._suspended = suspended
            if suspended:
                self._resumed.clear()
            else:
                self._resumed.set()

    def before_job(self, job: Job) -> None:
        """Hook: runs in the worker before each job (the Django layer closes stale database
        connections and sends job_started here)."""

    def after_job(self, job: Job, outcome: Outcome, succeeded: bool) -> None:
        """Hook: runs after each job and its callbacks, before its outcome is written (which
        goes with the worker's next request)."""

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
        """Field/value pairs of this worker's record (refreshed with every heartbeat)."""
        return [
            "name", self.name, "hostname", self.hostname, "pid", self.pid,
            "queues", ",".join(self.queue_names), "birth", f"{self.birth:.6f}",
            "state", self._state, "current_job", self._current[0],
            "successful_job_count", self.successful_job_count,
            "failed_job_count", self.failed_job_count,
            "total_working_time", f"{self.total_working_time:.6f}",
        ]

    # --- the loop --------------------------------------------------------------------

    def work(self, burst: bool = False, max_jobs: int | None = None, **_: Any) -> bool:
        """Process jobs until stopped (or, with ``burst``, until the queues are empty).

        Returns whether any job was processed.
        """
        self._install_signal_handlers()
        self._job_thread = threading.get_ident()
        self._maintenance = Maintenance(self)
        self._call_until_done(lambda: self._maintenance.tick(force=True))
        self._maintenance.start()
        self._state = "idle"
        processed = 0
        logger.info("worker %s: serving %s", self.name, ", ".join(self.queue_names))
        try:
            while not self._stop_requested:
                if self._suspended and not self._pending:
                    if burst:
                        break
                    self._resumed.wait(timeout=self.maintenance_interval)
                    continue
                wants_job = (max_jobs is None or processed < max_jobs) and not self._suspended
                take = [self.worker_ttl, *self.queue_names] if wants_job else []
                if self._pending:
                    script, args = self._pending
                    reply = self._call_until_done(lambda s=script, a=[*args, *take]:
                                                  self._channel.call(s, a))
                    if reply is None:
                        break
                    self._pending, self._current = None, ("", "")
                    reply = reply[1]
                elif wants_job:
                    reply = self._call_until_done(lambda t=take: self._channel.call(
                        scripts.get("dequeue"), [self.name, *t]))
                else:
                    break
                if not wants_job:
                    if self._suspended:
                        continue  # the outcome in hand is recorded; now wait for resume
                    break
                if reply:
                    self._run(reply)
                    processed += 1
                elif burst:
                    if not self._call_until_done(lambda: self._maintenance.tick(force=True)):
                        break
                else:
                    self._wait_for_work()
        except StopRequested:
            self._give_back_current_job()
        finally:
            self._flush_pending()
            self._channel.close()
            self._maintenance.stop()
            self._register_death()
            self._restore_signal_handlers()
        logger.info("worker %s: stopped after %d job(s)", self.name, processed)
        return processed > 0

    def _run(self, reply: list) -> None:
        queue_name, job_id, flat = decode(reply[0]), decode(reply[1]), reply[2]
        self._current = (job_id, queue_name)
        self._state = "busy"
        try:
            fields = scripts.unpack_fields(flat)
            job = Job.from_fields(job_id, fields, self.connection, serializer=self.serializer)
            job.origin = queue_name
        except Exception as exc:  # a corrupt hash: fail this job, keep working
            job = Job(job_id, connection=self.connection, serializer=self.serializer)
            job.origin = queue_name
            now = time.time()
            outcome = Outcome(ok=False, started=now, ended=now, exception=exc, retryable=False,
                              exc_info=f"Corrupt job {job_id} in Redis: "
                                       f"{type(exc).__name__}: {exc}")
        else:
            self._call_hook(self.before_job, job)
            self._interruptible = True
            try:
                outcome = perform(job, keep_alarm_handler=True)
            finally:
                self._interruptible = False
            outcome = run_callbacks(job, outcome)
        self._pending, outcome = record_call(job, outcome, self.name, self.default_result_ttl)
        self._call_hook(self.after_job, job, outcome, outcome.ok)
        self.total_working_time += outcome.duration
        if outcome.ok:
            self.successful_job_count += 1
            result = "finished"
        else:
            self.failed_job_count += 1
            lines = (outcome.exc_info or "").strip().splitlines() or ["(no error text)"]
            retries = f" ({job.retries_left} retries left)" if job.retries_left else ""
            if outcome.stopped:
                retries = " (stopped on request)"
            logger.warning("job %s %s failed in %.1f ms%s: %s", job_id, job.func_name,
                           outcome.duration * 1000, retries, lines[-1][:200])
            self._state = "idle"
            return
        logger.info("job %s %s %s in %.1f ms", job_id, job.func_name, result,
                    outcome.duration * 1000)
        self._state = "idle"

    def blocking_wait_timeout(self) -> float:
        """The idle wait, ended before the client's own socket timeout would cut it off
        (redis-py 8 sets one by default, reported as ``orig_socket_timeout``)."""
        options = self.connection.get_connection_kwargs()
        socket_timeout = options.get("socket_timeout") or options.get("orig_socket_timeout")
        if socket_timeout:
            return max(0.1, min(self.wait_timeout, socket_timeout - 1))
        return self.wait_timeout

    def _call_hook(self, hook: Any, *args: Any) -> None:
        try:
            hook(*args)
        except Exception:  # a hook must never take the worker down
            logger.exception("worker %s: %s raised", self.name, hook.__name__)

    def _wait_for_work(self) -> None:
        """Block (no polling) until some queue gets a job, or the wait times out."""
        timeout = self.blocking_wait_timeout()
        notify_keys = [keys.notify(name) for name in self.queue_names]
        self._interruptible = True  # from here a signal raises ShutdownRequested...
        try:
            if self._stop_requested:  # ...and one that came just before is seen here
                return
            self._call_until_done(lambda: self.connection.blpop(notify_keys, timeout=timeout))
        except ShutdownRequested:
            pass
        finally:
            self._interruptible = False

    # --- outages ---------------------------------------------------------------------

    def _call_until_done(self, call: Any) -> Any:
        """Run a Redis call, reconnecting with backoff on a lost connection; None if stopped."""
        delay = 0.05
        lost = False
        while True:
            try:
                result = call()
            except _LOST_CONNECTION as exc:
                if self._force_stop or (self._stop_requested and self._pending is None):
                    return None
                if not lost:
                    logger.warning("worker %s: Redis connection lost (%s); reconnecting",
                                   self.name, exc)
                lost = True
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.max_backoff)
                continue
            if lost:
                logger.warning("worker %s: Redis connection back", self.name)
                self._reclaim_orphans()
            return result

    def _reclaim_orphans(self) -> None:
        """A dequeue whose reply was lost left a job started under our name: put it back."""
        job_id = self._current[0]
        try:
            for name in self.queue_names:
                scripts.get("recover")(self.connection, name, "owner", 0, self.name, job_id)
        except _LOST_CONNECTION:
            pass  # the lease lapses and any worker takes it back

    def _flush_pending(self) -> None:
        if self._pending is None:
            return
        deadline = time.monotonic() + self.worker_ttl
        while time.monotonic() < deadline:
            try:
                script, args = self._pending
                script(self.connection, *args)
                self._pending, self._current = None, ("", "")
                return
            except _LOST_CONNECTION:
                time.sleep(0.2)
        logger.error("worker %s: could not record job %s; its lease will lapse and another "
                     "worker will run it again", self.name, self._current[0])

    def _give_back_current_job(self) -> None:
        job_id, queue = self._current
        if job_id:
            try:
                scripts.get("recover")(self.connection, queue, "owner", 0, self.name, "")
                logger.warning("worker %s: stopped job %s; it is back on %s",
                               self.name, job_id, queue)
            except _LOST_CONNECTION:
                logger.error("worker %s: could not give back job %s; its lease will lapse",
                             self.name, job_id)
            self._current = ("", "")
        self._pending = None

    def _register_death(self) -> None:
        try:
            pipe = self.connection.pipeline(transaction=False)
            pipe.delete(self.key)
            pipe.zrem(keys.workers(), self.name)
            pipe.execute()
        except _LOST_CONNECTION:
            pass  # the record expires by itself

    # --- signals ---------------------------------------------------------------------

    def request_stop(self) -> None:
        """Warm shutdown: finish the current job, then leave (also from another thread)."""
        self._stop_requested = True

    def _install_signal_handlers(self) -> None:
        self._previous_handlers = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        # jobs keep the timeout handler installed between them; give the old one back at the end
        self._previous_handlers[signal.SIGALRM] = signal.getsignal(signal.SIGALRM)
        timeouts.install_handler()  # also how an operator's stop reaches a job

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop_requested:
            self._force_stop = True
            logger.warning("worker %s: second signal, stopping now", self.name)
            if self._interruptible:
                raise StopRequested() if self._state == "busy" else ShutdownRequested()
            return
        self._stop_requested = True
        logger.warning("worker %s: warm shutdown requested (signal %d); "
                       "finishing the current job", self.name, signum)
        if self._interruptible and self._state != "busy":
            raise ShutdownRequested()

    # --- other workers ---------------------------------------------------------------

    @classmethod
    def all(cls, connection: Redis | None = None, queue: Queue | None = None) -> list[WorkerInfo]:
        """Live workers (a worker whose record expired has dropped off)."""
        connection = resolve_connection(connection)
        names = [decode(n) for n in connection.zrange(keys.workers(), 0, -1)]
        pipe = connection.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(keys.worker(name))
        infos = [WorkerInfo.from_fields(f) for f in pipe.execute() if f]
        if queue is not None:
            infos = [i for i in infos if queue.name in i.queue_names]
        return infos

    @classmethod
    def count(cls, connection: Redis | None = None, queue: Queue | None = None) -> int:
        return len(cls.all(connection=connection, queue=queue))


@dataclass
class WorkerInfo:
    """What a worker publishes about itself, as read by others (admin, stats)."""

    name: str
    hostname: str
    pid: int
    queue_names: list[str]
    state: str
    current_job_id: str | None
    birth: datetime | None
    last_heartbeat: datetime | None
    successful_job_count: int
    failed_job_count: int
    total_working_time: float

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> WorkerInfo:
        """Read leniently: a corrupt number shows as 0/None rather than hiding every worker
        (this feeds the admin's overview pages)."""
        get = lambda name: decode_text(fields.get(name.encode())) or ""  # noqa: E731
        return cls(
            name=get("name"), hostname=get("hostname"), pid=int(_number(get("pid"))),
            queue_names=[q for q in get("queues").split(",") if q], state=get("state"),
            current_job_id=get("current_job") or None, birth=_time(get("birth")),
            last_heartbeat=_time(get("last_heartbeat")),
            successful_job_count=int(_number(get("successful_job_count"))),
            failed_job_count=int(_number(get("failed_job_count"))),
            total_working_time=_number(get("total_working_time")),
        )


def _number(text: str) -> float:
    try:
        value = float(text or 0)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def _time(text: str) -> datetime | None:
    try:
        return from_timestamp(text)
    except (ValueError, OverflowError, OSError):
        return None


SimpleWorker = Worker
