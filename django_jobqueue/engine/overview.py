"""Read-only views of queues for operators (the admin, stats and metrics): counts of every
queue in one round trip, a page of a queue or registry, short job summaries, bounded search.

Every function here costs a fixed number of round trips, however many jobs a queue holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import keys, scripts
from .fields import SUMMARY_FIELDS, decode_values, lenient_time
from .serializers import loads_signed, serializer_for
from .states import EXPIRING, TABS
from .utils import decode_text
from .worker.info import WorkerInfo, grouped

if TYPE_CHECKING:
    from redis import Redis

#: the tabs of a queue (where a job of it can be), in the order operators read them
STATES = TABS
__all__ = ["EXPIRING", "STATES", "SUMMARY_FIELDS", "JobSummary", "QueueCounts", "holds",
           "overview", "page_of_ids", "search", "state_key", "summaries"]


@dataclass
class QueueCounts:
    name: str
    queued: int = 0
    started: int = 0
    scheduled: int = 0
    deferred: int = 0
    finished: int = 0
    failed: int = 0
    canceled: int = 0
    oldest_enqueued_at: datetime | None = None
    #: seconds the oldest queued job has waited, by the Redis server's clock
    oldest_age: float | None = None
    workers: list[WorkerInfo] = field(default_factory=list)
    #: no worker takes from it (pausing.py); it still accepts jobs
    paused: bool = False

    def by_state(self) -> list[tuple[str, int]]:
        return [(state, getattr(self, state)) for state in STATES]


def overview(connection: Redis, queue_names: Sequence[str]) -> tuple[list[QueueCounts],
                                                                     list[WorkerInfo]]:
    """Counts of these queues and the live workers, in one round trip.

    The workers are every record of the workers set (pools and their children too); each
    queue's ``workers`` lists those serving it as operators count them: a pool once (not
    its children as well), a child only when its pool's record is missing."""
    reply = scripts.get("stats")(connection, *queue_names)
    now = float(reply[0])
    counts = []
    for name, row in zip(queue_names, reply[1:1 + len(queue_names)], strict=True):
        oldest = lenient_time(row[7])  # a corrupt time must not blind every count
        counts.append(QueueCounts(
            name, *(int(n) for n in row[:7]), oldest_enqueued_at=oldest,
            oldest_age=max(0.0, now - oldest.timestamp()) if oldest else None,
            paused=len(row) > 8 and row[8] == 1,
        ))
    workers = []
    for flat in reply[1 + len(queue_names):]:
        workers.append(WorkerInfo.from_fields(dict(zip(flat[::2], flat[1::2], strict=True))))
    by_name = {c.name: c for c in counts}
    for worker, _ in grouped(workers):
        for name in worker.queue_names:
            if name in by_name:
                by_name[name].workers.append(worker)
    return counts, workers


def holds(connection: Redis, queue_name: str, state: str, job_id: str) -> bool:
    """Whether this tab lists the job (an expired registry entry is not listed)."""
    score = connection.zscore(state_key(queue_name, state), job_id)
    if score is None:
        return False
    return state not in EXPIRING or score > float(connection.time()[0])


def state_key(queue_name: str, state: str) -> str:
    if state == "queued":
        return keys.queue(queue_name)
    return keys.registry(state, queue_name)


def page_of_ids(connection: Redis, queue_name: str, state: str, offset: int, length: int,
                newest_first: bool) -> tuple[int, list[str]]:
    """(how many jobs the tab holds, the ids of one page), in one round trip, by rank (as
    fast on the last page as on the first).

    A queue's order is its run order (oldest first = next to run); a registry's is its score
    (time started, due, deferred or expiring)."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    where = "queue" if state == "queued" else state
    reply = scripts.get("page")(connection, queue_name, where, offset, length,
                                "1" if newest_first else "", "1" if state in EXPIRING else "")
    return int(reply[0]), [decode_text(i) for i in reply[1:]]


@dataclass
class JobSummary:
    """What a row of a job listing shows; ``problem`` says what could not be read."""

    id: str
    status: str | None
    func_name: str | None
    description: str | None
    created_at: datetime | None
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    worker_name: str | None
    origin: str | None
    meta: dict[str, Any]
    problem: str | None = None
    #: the last line of the traceback (what went wrong), when asked for
    error: str | None = None
    #: the job's score in the listed registry (a scheduled job's due time), when asked for
    score: float | None = None

    @property
    def progress(self) -> float | None:
        """``meta["progress"]`` as a percentage (0-100) when the job reports one."""
        value = self.meta.get("progress") if isinstance(self.meta, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return max(0.0, min(100.0, float(value)))


def summaries(connection: Redis, job_ids: Sequence[str], serializer: Any = None,
              errors: bool = False, scores_in: str | None = None) -> list[JobSummary | None]:
    """Summaries of these jobs in one round trip (None for a job that no longer exists);
    with ``errors`` the last line of each traceback, with ``scores_in`` (a key) each job's
    score there."""
    fields = SUMMARY_FIELDS + (("exc_info",) if errors else ())
    pipe = connection.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(keys.job(job_id), fields)
        if scores_in:
            pipe.zscore(scores_in, job_id)
    replies = pipe.execute()
    step = 2 if scores_in else 1
    found = []
    for n, job_id in enumerate(job_ids):
        values = replies[n * step]
        summary = _summary(job_id, values[:len(SUMMARY_FIELDS)], serializer)
        if summary is not None:
            if errors:
                summary.error = _last_line(decode_text(values[-1]))
            if scores_in:
                summary.score = replies[n * step + 1]
        found.append(summary)
    return found


def _last_line(text: str | None) -> str | None:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else None


def _summary(job_id: str, values: list[bytes | None], serializer: Any) -> JobSummary | None:
    if all(v is None for v in values):
        return None
    problems: list[str] = []
    found = decode_values(SUMMARY_FIELDS, values, lenient=True, problems=problems)
    raw = dict(zip(SUMMARY_FIELDS, values, strict=True))
    status = found.get("status")
    if status is None and raw["status"]:  # unknown: shown as stored
        status = decode_text(raw["status"])
    meta: dict[str, Any] = {}
    if found.get("meta"):
        try:
            meta = loads_signed(serializer_for(found.get("serializer"), serializer),
                                found["meta"])
        except Exception as exc:  # a listing shows what it can and says what is wrong
            problems.append(f"meta unreadable: {type(exc).__name__}: {exc}")
    text = lambda name: found.get(name) or decode_text(raw[name])  # noqa: E731
    return JobSummary(
        id=job_id, status=str(status) if status is not None else None,
        func_name=text("func_name"), description=text("description"),
        created_at=found.get("created_at"), enqueued_at=found.get("enqueued_at"),
        started_at=found.get("started_at"), ended_at=found.get("ended_at"),
        worker_name=text("worker_name"), origin=text("origin"),
        meta=meta if isinstance(meta, dict) else {}, problem="; ".join(problems) or None,
    )


def search(connection: Redis, queue_name: str, state: str, needle: str, start: int,
           newest_first: bool, wanted: int, slice_size: int = 20_000) -> tuple[list[str], int, int]:
    """Ids in this tab whose id or function name contains ``needle``, scanning at most
    ``slice_size`` entries from ``start``: (ids, where the next slice starts or -1, size of
    the tab)."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    where = "queue" if state == "queued" else state
    reply = scripts.get("search")(connection, queue_name, where, needle, start, slice_size,
                                  "1" if newest_first else "", wanted,
                                  "1" if state in EXPIRING else "")
    return [decode_text(i) for i in reply[2:]], int(reply[0]), int(reply[1])
