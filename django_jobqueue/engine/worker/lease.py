"""A worker's background duties, in one round trip per tick on a thread of its own, so the
job loop never pays for them: heartbeat and lease renewal, recovery of jobs whose worker
died, due scheduled jobs, cleanup of expired registry entries, a sample of each queue's
depth for the metrics' history, and operators' requests to stop the running job.

:class:`LeaseKeeper` does one tick and reports what it saw (:class:`TickReport`); the loop
applies the report (suspend, stop a job, log). The keeper knows nothing of the loop but the
snapshot it is given: what job it holds and how it describes itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import NoScriptError, RedisError

from .. import keys, scripts, steps
from ..states import EXPIRING

logger = logging.getLogger("django_jobqueue.worker")

CLEANUP_EVERY = 60.0
#: how often a worker offers a depth sample (metrics.py keeps the first of each minute)
DEPTH_SAMPLE_EVERY = 20.0
#: how long a stop request waits for the job it names to start running
STOP_RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Snapshot:
    """What the loop holds now: the job it runs ('' when idle), that job's queue, and the
    field/value pairs of its worker record."""

    job_id: str
    queue: str
    record: Sequence[Any]


@dataclass
class TickReport:
    suspended: bool
    #: jobs put on queues by this tick (due scheduled jobs, recovered jobs)
    moved: int = 0
    #: an operator asked to stop this job (the loop stops it if it is running it)
    stop_job_id: str | None = None
    #: a pool's: every job an operator asked to stop (the supervisor relays them)
    stop_job_ids: list[str] = field(default_factory=list)
    #: queue -> jobs taken back from lost workers (heartbeat ticks only)
    recovered: dict[str, steps.Recovered] = field(default_factory=dict)
    #: due periodic ticks this tick claimed (enqueued or skipped)
    periodic: list[Any] = field(default_factory=list)


class LeaseKeeper:
    """One tick of a worker's duties (see the module docstring)."""

    def __init__(self, connection: Redis, worker_name: str, queue_names: Sequence[str],
                 worker_ttl: float, max_lost_attempts: int,
                 snapshot: Callable[[], Snapshot]) -> None:
        self.connection = connection
        self.worker_name = worker_name
        self.queue_names = list(queue_names)
        self.worker_ttl = worker_ttl
        self.max_lost_attempts = max_lost_attempts
        self.snapshot = snapshot
        self.heartbeat_interval = worker_ttl / 4
        self._next_heartbeat = 0.0
        self._next_cleanup = 0.0
        self._next_depth_sample = 0.0
        self._whole_record = True  # the first heartbeat writes the record anew
        self._stop_retry: tuple[str, float] | None = None
        #: the periodic jobs this worker runs (a PeriodicRunner), or None
        self.periodic: Any = None

    def retry_stop(self, job_id: str | None) -> None:
        """The job a stop request named is this worker's but has not started running yet:
        report the request again on the next ticks (for up to a minute); None: done."""
        if job_id is None:
            self._stop_retry = None
        elif self._stop_retry is None or self._stop_retry[0] != job_id:
            self._stop_retry = (job_id, time.monotonic() + STOP_RETRY_SECONDS)

    def tick(self, force: bool = False) -> TickReport:
        """One round trip: due scheduled jobs, stop requests, and on their intervals the
        heartbeat, recovery and cleanup."""
        now = time.monotonic()
        pipe = self.connection.pipeline(transaction=False)
        pipe.exists(keys.suspended())
        used = [steps.schedule_due_on(pipe, steps.SCHEDULE_BATCH, self.queue_names)]
        self._ask_for_stop_requests(pipe)
        heartbeat = force or now >= self._next_heartbeat
        if heartbeat:
            used.append(self._beat_on(pipe))
            for name in self.queue_names:
                used.append(steps.recover_expired_on(pipe, name, steps.RECOVER_BATCH,
                                                     self.max_lost_attempts))
        cleanup = now >= self._next_cleanup
        if cleanup:
            stamp = f"({time.time()}"
            for name in self.queue_names:
                for kind in EXPIRING:
                    pipe.zremrangebyscore(keys.registry(kind, name), "-inf", stamp)
            pipe.zremrangebyscore(keys.workers(), "-inf", time.time() - 2 * self.worker_ttl)
        sample = now >= self._next_depth_sample and bool(self.queue_names)
        if sample:
            used.append(steps.sample_depth_on(pipe, self.queue_names))
        periodic = self.periodic is not None and self.periodic.active
        if periodic:
            used.append(self.periodic.ask_on(pipe))  # last: its reply is replies[-1]
        replies = pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, NoScriptError):  # Redis restarted: load and go again
                scripts.load(self.connection, used)
                return self.tick(force=True)
            if isinstance(reply, Exception):
                raise reply
        if heartbeat:
            self._next_heartbeat = now + self.heartbeat_interval
            self._whole_record = False
        if cleanup:
            self._next_cleanup = now + CLEANUP_EVERY
        if sample:
            self._next_depth_sample = now + DEPTH_SAMPLE_EVERY
        report = TickReport(suspended=bool(replies[0]), moved=int(replies[1]))
        self._read_stop_requests(replies[2], now, report)
        if heartbeat:
            for name, reply in zip(self.queue_names, replies[4:4 + len(self.queue_names)],
                                   strict=True):
                found = steps.parse_recovered(reply)
                report.recovered[name] = found
                report.moved += found.requeued + found.failed
        if periodic:
            report.periodic = self._run_periodic(replies[-1])
        return report

    def _run_periodic(self, reply: Any) -> list[Any]:
        """Enqueue the due periodic ticks (extra round trips only when one is due); a bad
        definition must not stop the worker's other duties."""
        try:
            return self.periodic.run_due(self.connection, reply)
        except RedisError as exc:  # the next tick tries again; this tick's report stands
            logger.warning("worker %s: periodic jobs skipped this tick: %s",
                           self.worker_name, exc)
        except Exception:
            logger.exception("worker %s: periodic jobs failed", self.worker_name)
        return []

    # --- what a pool's keeper does otherwise (pool/upkeep.py) --------------------------

    def _ask_for_stop_requests(self, pipe: Any) -> None:
        pipe.getdel(keys.stop(self.worker_name))  # an operator's request to stop a job

    def _read_stop_requests(self, reply: Any, now: float, report: TickReport) -> None:
        report.stop_job_id = reply.decode() if reply else self._pending_stop(now)

    def _beat_on(self, pipe: Any) -> str:
        held = self.snapshot()
        return steps.heartbeat_on(pipe, self.worker_name, int(self.worker_ttl) + 1,
                                  self.worker_ttl, held.job_id, held.queue,
                                  self._whole_record, held.record)

    def _pending_stop(self, now: float) -> str | None:
        if self._stop_retry is None:
            return None
        job_id, deadline = self._stop_retry
        if now >= deadline:
            self._stop_retry = None
            return None
        return job_id


class Maintenance(threading.Thread):
    """Runs the keeper's tick every ``interval`` seconds and hands each report to
    ``apply``; a Redis error skips the tick (the job loop does the reconnecting)."""

    def __init__(self, keeper: LeaseKeeper, interval: float,
                 apply: Callable[[TickReport], None]) -> None:
        super().__init__(name=f"jobqueue-maintenance-{keeper.worker_name}", daemon=True)
        self.keeper = keeper
        self.interval = min(interval, keeper.heartbeat_interval)
        self.apply = apply
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.apply(self.keeper.tick())
            except RedisError as exc:
                logger.warning("worker %s: maintenance skipped: %s", self.keeper.worker_name,
                               exc)
            except Exception:
                logger.exception("worker %s: maintenance failed", self.keeper.worker_name)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=5)
