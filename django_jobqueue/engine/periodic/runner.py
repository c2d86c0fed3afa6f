"""Running periodic jobs from the workers, with no process of their own: every worker (or
pool) given the definitions asks Redis on each maintenance tick which ticks are due, and
the first to claim a tick enqueues its job in the same atomic step (periodic_fire.lua), so
each tick is enqueued once however many workers run.

Missed ticks: a tick found more than ``late_after`` seconds (:data:`LATE_AFTER`, or three
maintenance intervals when longer) after its time was missed (no worker was running): the
definition's ``missed`` says whether one catch-up run is enqueued (for the latest missed
tick) or none; never one per missed tick. Ticks due within that window are enqueued one by
one, so a busy or briefly restarting worker leaves no gap.

Definitions are stored when a worker starts (the last worker to start wins a definition
that differs between workers), confirmed every :data:`RESYNC_EVERY` seconds (which also
brings back a schedule a Redis restarted empty lost), and deleted once no worker has
confirmed them for :data:`STALE_AFTER` seconds. A worker fires only ticks of definitions it
shares with the stored ones.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from redis import Redis

from .. import keys, scripts, steps
from ..job import Job
from ..serializers import resolve_serializer
from .spec import PeriodicJob

logger = logging.getLogger("django_jobqueue.worker")

#: a tick found later than this (seconds) was missed: see the module docstring
LATE_AFTER = 10.0
#: due ticks one maintenance tick reads at most
DUE_BATCH = 50
#: ticks of one periodic job one maintenance tick enqueues at most (catching up)
MOST_PER_JOB = 10
#: seconds between two confirmations of the definitions (see the module docstring)
RESYNC_EVERY = 30.0
#: a definition no worker confirmed for this long is taken over, or deleted
STALE_AFTER = 120.0


@dataclass(frozen=True)
class Fired:
    """What became of one due tick: see periodic_fire.lua's outcomes."""

    name: str
    tick: int
    outcome: str
    job_id: str | None = None


class PeriodicRunner:
    """The periodic jobs one worker or pool knows, and the steps that run them."""

    def __init__(self, jobs: Iterable[PeriodicJob], serializer: Any = None,
                 queue_for: Callable[[str], Any] | None = None) -> None:
        """``queue_for(name)``: the Queue whose serializer and defaults (``apply_defaults``)
        a tick's job gets; none: ``serializer`` and the job's own options only."""
        self.jobs: dict[str, PeriodicJob] = {}
        for job in jobs:
            if job.name in self.jobs:
                raise ValueError(f"two periodic jobs are named {job.name!r}")
            self.jobs[job.name] = job
        self.serializer = resolve_serializer(serializer)
        self.queue_for = queue_for
        #: later than this (seconds) a tick was missed; the worker raises it to three of
        #: its maintenance intervals when those are longer
        self.late_after = LATE_AFTER
        self.synced = False
        self._next_sync = 0.0
        self._digests = {name: job.digest() for name, job in self.jobs.items()}

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def active(self) -> bool:
        """Whether a maintenance tick asks about due ticks: until the first sync (which
        also removes schedules no longer defined), then only with periodic jobs."""
        return not self.synced or bool(self.jobs)

    def sync(self, connection: Redis) -> None:
        """Store the definitions (at start: see the module docstring), or confirm them."""
        starting = not self.synced
        seconds, micros = connection.time()
        now = seconds + micros / 1e6
        pipe = connection.pipeline(transaction=False)
        for name in self.jobs:
            pipe.hget(keys.periodic(name), "last_tick")
        last_ticks = pipe.execute() if self.jobs else []
        entries = []
        for job, last in zip(self.jobs.values(), last_ticks, strict=True):
            # a new definition starts after now; a replaced one after its last run and
            # within the late window, so that it neither repeats a tick nor drops one due
            ran = _number(last)
            start = now if ran == float("-inf") else max(ran, now - self.late_after)
            try:
                first = job.next_tick(start)
            except (ValueError, KeyError):
                logger.exception("periodic job %s: no next tick; not scheduled", job.name)
                continue
            entries.append(steps.PeriodicEntry(job.name, self._digests[job.name],
                                               json.dumps(job.summary()), job.enabled, first))
        changed, removed = steps.periodic_sync(connection, entries, starting, STALE_AFTER)
        self.synced = True
        self._next_sync = time.monotonic() + RESYNC_EVERY
        for name in changed:
            logger.info("periodic job %s: scheduled (%s)", name, self.jobs[name].describe())
        for name in removed:
            logger.info("periodic job %s: removed (no worker defines it any more)", name)

    def ask_on(self, pipe: Any) -> str:
        """Queue the question "which ticks are due?" on a maintenance tick's pipeline."""
        return steps.periodic_due_on(pipe, DUE_BATCH)

    def run_due(self, connection: Redis, reply: Sequence[Any]) -> list[Fired]:
        """Claim and enqueue the due ticks the reply of :meth:`ask_on` names."""
        if not self.synced or time.monotonic() >= self._next_sync:
            self.sync(connection)
            if not self.jobs:
                return []
        now, due = steps.parse_periodic_due(reply)
        fired: list[Fired] = []
        for entry in due:
            job = self.jobs.get(entry.name)
            if job is None:
                continue  # another deployment's definition: its own workers run it
            tick, score = entry.tick, entry.score
            for _ in range(MOST_PER_JOB):
                result, tick = self._run_tick(connection, job, tick, score, now)
                fired.append(result)
                score = str(tick)
                if result.outcome in ("moved", "missing") or tick > now:
                    break
        return fired

    def _run_tick(self, connection: Redis, job: PeriodicJob, due: int, score: str,
                  now: float) -> tuple[Fired, int]:
        """Claim the tick due at ``due``: (what became of it, the next tick stored)."""
        if now - due <= self.late_after:
            run, mode, following = due, "fire", job.next_tick(due)
        else:  # missed: one catch-up run (or none), then on from the next tick after now
            # (never older than ``due``: the last tick before now may be an earlier one in
            # a repeated hour of a daylight-saving change)
            run = max(due, job.last_tick(now) or due)
            mode = "missed" if job.missed == "skip" else "fire"
            following = job.next_tick(now)
        packed = b""
        if mode == "fire":
            try:
                packed = self.packed_job(connection, job, run)
            except Exception:  # noqa: BLE001 - its settings broke since the check: say so
                logger.exception("periodic job %s: cannot build the job for the tick at %s; "
                                 "the tick is skipped", job.name, _when(run))
                mode = "error"
        outcome, job_id = steps.periodic_fire(connection, job.name, self._digests[job.name],
                                              score, following, run, job.queue, packed,
                                              mode=mode, overlap=job.overlap)
        result = Fired(job.name, run, outcome, job_id)
        _log(result, due)
        return result, following

    def run_now(self, connection: Redis, name: str) -> Fired:
        """Enqueue a run of ``name`` now, outside its schedule (an operator's "run now")."""
        job = self.jobs[name]
        packed = self.packed_job(connection, job, None)
        outcome, job_id = steps.periodic_fire(connection, name, self._digests[name], None,
                                              None, None, job.queue, packed, overlap=True)
        return Fired(name, 0, outcome, job_id)

    def packed_job(self, connection: Redis, job: PeriodicJob, tick: int | None) -> bytes:
        """The job for one tick (its id names the tick), as periodic_fire.lua takes it."""
        queue = self.queue_for(job.queue) if self.queue_for is not None else None
        built = Job.create(job.func_name, args=job.args, kwargs=job.kwargs,
                           id=job.tick_job_id(tick) if tick is not None else None,
                           origin=job.queue, connection=connection,
                           serializer=queue.serializer if queue is not None
                           else self.serializer, **job.options)
        if queue is not None:
            queue.apply_defaults(built)
        fields = [*built.stored_fields(), "periodic", job.name]
        if tick is not None:
            fields += ["tick_at", tick]
        return scripts.pack_fields([built.id, built.ttl or 0, *fields])


def _number(raw: Any) -> float:
    """A stored tick, or -inf when missing or corrupt."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return float("-inf")
    return value if value == value else float("-inf")


def _when(tick: int) -> str:
    return datetime.fromtimestamp(tick, timezone.utc).isoformat()


def _log(result: Fired, due: int) -> None:
    if result.outcome == "fired":
        logger.info("periodic job %s: enqueued job %s for the tick at %s", result.name,
                    result.job_id, _when(result.tick))
    elif result.outcome in ("overlap", "missed", "disabled", "error"):
        reason = {"overlap": f"its last run ({result.job_id}) is still queued or running",
                  "missed": "missed (no worker ran then), and missed='skip'",
                  "disabled": "disabled", "error": "its job could not be built"}[
                      result.outcome]
        logger.info("periodic job %s: tick at %s skipped: %s", result.name, _when(due),
                    reason)


def as_runner(periodic: Any, serializer: Any = None,
              maintenance_interval: float = 1.0) -> PeriodicRunner | None:
    """A worker's ``periodic=`` argument (None, a PeriodicRunner, or PeriodicJobs), with
    its late window raised to three maintenance intervals when those are longer."""
    if periodic is None:
        return None
    if not isinstance(periodic, PeriodicRunner):
        jobs = list(periodic)
        for job in jobs:
            if not isinstance(job, PeriodicJob):
                raise TypeError(f"periodic= takes PeriodicJob(...) objects, not {job!r}")
        periodic = PeriodicRunner(jobs, serializer)
    periodic.late_after = max(LATE_AFTER, 3 * maintenance_interval)
    return periodic
