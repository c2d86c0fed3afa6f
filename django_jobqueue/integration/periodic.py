"""Periodic jobs in a Django project: the runner each worker gets (runworker), and what the
admin and ``manage.py jobqueue periodic`` show and do (list, run now, enable, disable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..engine import steps
from ..engine.periodic import Fired, PeriodicJob, PeriodicRunner
from ..engine.periodic.status import PeriodicStatus, read_statuses
from . import settings as jobqueue_settings
from .clients import get_client
from .queues import get_connection, get_queue


def periodic_runner(connection_name: str) -> PeriodicRunner:
    """The periodic jobs a worker on connection ``connection_name`` runs: those whose queue
    lives on that connection (their schedules are kept in that Redis)."""
    config = jobqueue_settings.load()
    jobs = [job for job in config.periodic
            if job.queue in config.queues
            and config.queues[job.queue].connection == connection_name]
    return PeriodicRunner(jobs, queue_for=get_queue)


@dataclass(frozen=True)
class PeriodicRow:
    """One periodic job as operators see it: its definition (from settings) and its
    schedule's state (from Redis; none until a worker with the definition started)."""

    job: PeriodicJob
    status: PeriodicStatus | None

    @property
    def enabled(self) -> bool:
        return self.status.enabled if self.status is not None else self.job.enabled

    @property
    def next_run(self) -> datetime | None:
        return self.status.next_run if self.status is not None else None

    @property
    def last_run(self) -> datetime | None:
        """The last run's tick (or, for a run now, when it was enqueued)."""
        if self.status is None:
            return None
        return self.status.last_tick or self.status.last_enqueued_at


def periodic_rows() -> list[PeriodicRow]:
    """Every periodic job of the settings, with its state: one read per Redis server."""
    config = jobqueue_settings.load()
    by_connection: dict[str, list[PeriodicJob]] = {}
    for job in config.periodic:
        by_connection.setdefault(config.queues[job.queue].connection, []).append(job)
    rows = []
    for connection_name, jobs in by_connection.items():
        statuses = read_statuses(get_client(connection_name))
        rows += [PeriodicRow(job, statuses.get(job.name)) for job in jobs]
    return sorted(rows, key=lambda row: row.job.name)


def find_periodic(name: str) -> PeriodicJob | None:
    return next((job for job in jobqueue_settings.load().periodic if job.name == name), None)


def run_now(name: str) -> Fired:
    """Enqueue a run of periodic job ``name`` now (KeyError: no such periodic job)."""
    job = _defined(name)
    return PeriodicRunner([job], queue_for=get_queue).run_now(get_connection(job.queue), name)


def set_enabled(name: str, enabled: bool) -> bool:
    """Enable or disable ``name`` until its definition changes; False when no worker has
    scheduled it yet (nothing to change)."""
    return steps.periodic_enable(get_connection(_defined(name).queue), name, enabled)


def _defined(name: str) -> PeriodicJob:
    job = find_periodic(name)
    if job is None:
        raise KeyError(name)
    return job


def periodic_summary(row: PeriodicRow) -> dict[str, Any]:
    """A row as plain values (``manage.py jobqueue periodic``, JSON)."""
    status = row.status
    return {
        "name": row.job.name, "func": row.job.func_name, "schedule": row.job.describe(),
        "cron": row.job.cron, "every": row.job.every, "timezone": row.job.timezone,
        "queue": row.job.queue, "enabled": row.enabled,
        "next_run": _iso(row.next_run) if status else "not scheduled (no worker yet)",
        "last_run": _iso(row.last_run),
        "last_job_id": status.last_job_id if status else None,
        "last_status": status.last_status if status else None,
        "skipped": status.skipped if status else 0,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
