"""What operators see of the periodic jobs a Redis holds (the admin's page, ``manage.py
jobqueue periodic``): read-only, lenient (a corrupt value shows as unknown, never fails the
page), two round trips for any number of periodic jobs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis import Redis

from .. import keys
from ..fields import lenient_number, lenient_time
from ..utils import decode


@dataclass(frozen=True)
class PeriodicStatus:
    name: str
    #: the definition as the last worker to start stored it (spec.PeriodicJob.summary)
    summary: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    next_run: datetime | None = None
    last_tick: datetime | None = None
    last_job_id: str | None = None
    #: the last run's job status now (None: the job is gone, e.g. expired)
    last_status: str | None = None
    last_enqueued_at: datetime | None = None
    skipped: int = 0
    last_skip_reason: str | None = None
    last_skipped_tick: datetime | None = None


def read_statuses(connection: Redis) -> dict[str, PeriodicStatus]:
    """name -> status of every periodic job scheduled in this Redis."""
    entries = connection.zrange(keys.periodics(), 0, -1, withscores=True)
    names = [decode(name) for name, _ in entries]
    pipe = connection.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.periodic(name))
    records = pipe.execute()
    last_ids = [decode(record.get(b"last_job")) or "" for record in records]
    pipe = connection.pipeline(transaction=False)
    for job_id in last_ids:
        pipe.hget(keys.job(job_id), "status")
    statuses = pipe.execute() if any(last_ids) else [None] * len(last_ids)
    found = {}
    for (name, score), record, job_id, status in zip(entries, records, last_ids, statuses,
                                                     strict=True):
        found[decode(name)] = _status(decode(name), score, record, job_id,
                                      decode(status) if job_id else None)
    return found


def _status(name: str, score: float, record: dict[bytes, bytes], job_id: str,
            status: str | None) -> PeriodicStatus:
    try:
        summary = json.loads(record.get(b"summary") or b"{}")
    except ValueError:
        summary = {}
    return PeriodicStatus(
        name=name, summary=summary if isinstance(summary, dict) else {},
        enabled=record.get(b"enabled") != b"0", next_run=lenient_time(score),
        last_tick=lenient_time(record.get(b"last_tick")), last_job_id=job_id or None,
        last_status=status, last_enqueued_at=lenient_time(record.get(b"last_enqueued_at")),
        skipped=int(lenient_number(record.get(b"skipped"))),
        last_skip_reason=decode(record.get(b"last_skip_reason")),
        last_skipped_tick=lenient_time(record.get(b"last_skipped_tick")),
    )
