"""Running periodic jobs from the workers, with no process of their own: every worker (or
pool) given the definitions asks Redis on each maintenance tick which ticks are due, and
the first to claim a tick enqueues its job in the same atomic step (periodic_fire.lua), so
each tick is enqueued once however many workers run.

Missed ticks: a tick found more than :data:`LATE_AFTER` seconds after its time was missed
(no worker was running): the definition's ``missed`` says whether one catch-up run is
enqueued (for the latest missed tick) or none; never one per missed tick. Later ticks due
within that window are enqueued one by one, so a busy or briefly restarting worker leaves
no gap.
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

from .. import scripts, steps
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
#: seconds between two syncs of the definitions: a schedule lost with a Redis that
#: restarted empty (or flushed) comes back without a worker restart
RESYNC_EVERY = 60.0


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
        self.synced = False
        self._next_sync = 0.0

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def active(self) -> bool:
        """Whether a maintenance tick asks about due ticks: until the first sync (which
        also removes schedules no longer defined), then only with periodic jobs."""
        return not self.synced or bool(self.jobs)

    def sync(self, connection: Redis) -> None:
        """Store the definitions (a changed one restarts from its next tick; one no longer
        defined is removed): done once when the worker starts."""
        seconds, micros = connection.time()
        now = seconds + micros / 1e6
        entries = [steps.PeriodicEntry(job.name, job.digest(), json.dumps(job.summary()),
                                       job.enabled, job.next_tick(now))
                   for job in self.jobs.values()]
        changed, removed = steps.periodic_sync(connection, entries)
        self.synced = True
        self._next_sync = time.monotonic() + RESYNC_EVERY
        for name in changed:
            logger.info("periodic job %s: scheduled, next tick %s", name,
                        _when(self.jobs[name].next_tick(now)))
        for name in removed:
            logger.info("periodic job %s: removed (no longer defined)", name)

    def ask_on(self, pipe: Any) -> str:
        """Queue the question "which ticks are due?" on a maintenance tick's pipeline."""
        return steps.periodic_due_on(pipe, DUE_BATCH)

    def run_due(self, connection: Redis, reply: Sequence[Any]) -> list[Fired]:
        """Claim and enqueue the due ticks the reply of :meth:`ask_on` names."""
        if not self.synced or time.monotonic() >= self._next_sync:
            self.sync(connection)
            return []
        now, due = steps.parse_periodic_due(reply)
        fired: list[Fired] = []
        for name, tick in due:
            job = self.jobs.get(name)
            if job is None:
                continue  # another deployment's definition: its own workers run it
            for _ in range(MOST_PER_JOB):
                result, tick = self._run_tick(connection, job, tick, now)
                fired.append(result)
                if result.outcome in ("moved", "missing") or tick > now:
                    break
        return fired

    def _run_tick(self, connection: Redis, job: PeriodicJob, due: int,
                  now: float) -> tuple[Fired, int]:
        """Claim the tick due at ``due``: (what became of it, the next tick stored)."""
        if now - due <= LATE_AFTER:
            run, skip, following = due, False, job.next_tick(due)
        else:  # missed: one catch-up run (or none), then on from the next tick after now
            run = job.last_tick(now) or due
            skip, following = job.missed == "skip", job.next_tick(now)
        packed = b"" if skip else self.packed_job(connection, job, run)
        outcome, job_id = steps.periodic_fire(connection, job.name, due, following, run,
                                              job.queue, packed, skip=skip,
                                              overlap=job.overlap)
        result = Fired(job.name, run, outcome, job_id)
        _log(result, due)
        return result, following

    def run_now(self, connection: Redis, name: str) -> Fired:
        """Enqueue a run of ``name`` now, outside its schedule (an operator's "run now")."""
        job = self.jobs[name]
        packed = self.packed_job(connection, job, None)
        outcome, job_id = steps.periodic_fire(connection, name, None, None, None, job.queue,
                                              packed, overlap=True)
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


def _when(tick: int) -> str:
    return datetime.fromtimestamp(tick, timezone.utc).isoformat()


def _log(result: Fired, due: int) -> None:
    if result.outcome == "fired":
        logger.info("periodic job %s: enqueued job %s for the tick at %s", result.name,
                    result.job_id, _when(result.tick))
    elif result.outcome in ("overlap", "missed", "disabled"):
        reason = {"overlap": f"its last run ({result.job_id}) is still queued or running",
                  "missed": "missed (no worker ran then), and missed='skip'",
                  "disabled": "disabled"}[result.outcome]
        logger.info("periodic job %s: tick at %s skipped: %s", result.name, _when(due),
                    reason)


def as_runner(periodic: Any, serializer: Any = None) -> PeriodicRunner | None:
    """A worker's ``periodic=`` argument: None, a PeriodicRunner, or PeriodicJobs."""
    if periodic is None or isinstance(periodic, PeriodicRunner):
        return periodic
    jobs = list(periodic)
    for job in jobs:
        if not isinstance(job, PeriodicJob):
            raise TypeError(f"periodic= takes PeriodicJob(...) objects, not {job!r}")
    return PeriodicRunner(jobs, serializer)
