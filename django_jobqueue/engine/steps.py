"""Every atomic step the engine takes in Redis, one typed function per Lua script: the only
callers of the scripts besides the read-only views of ``overview.py``. Each function says
what its script's ARGV is (a test checks every call against the ``.lua`` header), so the
positional contract between Python and Lua lives here and in the script, nowhere else.

A step runs ``via`` a Redis client (one pooled connection per call) or a worker's
:class:`~.channel.Channel` (its own connection); the worker's outcome-and-next-job step is
one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import ResponseError

from . import scripts, states
from .channel import Channel
from .results import RESULTS_KEPT
from .utils import decode

Via = Redis | Channel

#: jobs one maintenance step moves at most (Redis is never held for long)
RECOVER_BATCH = 1000
SCHEDULE_BATCH = 1000


def _run(via: Via, name: str, args: Sequence[Any]) -> Any:
    script = scripts.get(name)
    if isinstance(via, Channel):
        return via.call(script, args)
    return script(via, *args)


def _stream(client: Redis, name: str, batches: Sequence[Sequence[Any]]) -> list[Any]:
    return scripts.stream(client, scripts.get(name), batches)


# --- enqueue ---------------------------------------------------------------------------------


def enqueue(client: Redis, queue: str, inline_worker: str, inline_lease: int,
            batches: Sequence[Sequence[bytes]]) -> list[Any]:
    """enqueue.lua once per batch of packed jobs (``Queue._batch_args``), all in one round
    trip; a batch whose reply is an error gives that exception in its place. Each reply is
    ``[now, outcome per job]`` or ``[b"missing-dependency", job id, dependency id]``."""
    calls = [[queue, len(jobs), inline_worker, inline_lease, *jobs] for jobs in batches]
    if len(calls) == 1:
        try:
            return [_run(client, "enqueue", calls[0])]
        except ResponseError as exc:
            return [exc]
    return _stream(client, "enqueue", calls)


def enqueue_on(pipe: Any, queue: str, inline_worker: str, inline_lease: int,
               jobs: Sequence[bytes]) -> None:
    """enqueue.lua queued on the caller's pipeline (it runs when the caller executes it)."""
    scripts.get("enqueue").add_to(pipe, queue, len(jobs), inline_worker, inline_lease, *jobs)


# --- the worker's steps ----------------------------------------------------------------------


@dataclass(frozen=True)
class Take:
    """A worker's request for its next job, sent alone or after an outcome."""

    worker: str
    lease: float
    queues: Sequence[str]


@dataclass(frozen=True)
class Taken:
    """A job a take handed over: started under the worker, with a lease."""

    queue: str
    job_id: str
    fields: dict[bytes, bytes]
    #: more jobs wait in that queue (a pool's child wakes another of its idle slots)
    more: bool = False


@dataclass(frozen=True)
class Recording:
    """One run's outcome, to record for the worker that ran it (``execution.recording``)."""

    job_id: str
    queue: str
    worker: str
    #: the attempt number this run had (the job hash's ``attempts`` when it was taken)
    attempt: int
    #: the signed result entry kept in the job's results list
    entry: bytes
    succeeded: bool
    result_ttl: int = 0
    exc_info: str = ""
    #: whether the job's Retry runs it again (fail.lua checks a retry is left)
    retry: bool = False
    #: seconds until that retry (0: queued again at once), worked out by the worker
    retry_delay: float = 0.0
    #: the status a failure ends in
    final: states.JobStatus = states.JobStatus.FAILED
    #: executions kept in the job's results list (``results.results_kept``)
    keep: int = RESULTS_KEPT
    #: seconds the run took (metrics.py's histogram), None when unknown
    duration: float | None = None


def _taken(reply: Any) -> Taken | None:
    if not reply:
        return None
    more = len(reply) > 3 and reply[3] == 1
    return Taken(decode(reply[0]), decode(reply[1]), scripts.unpack_fields(reply[2]), more)


def take(via: Via, request: Take) -> Taken | None:
    """dequeue.lua: the next job, or the one a call whose reply was lost took already."""
    return _taken(_run(via, "dequeue", [request.worker, request.lease, *request.queues]))


def finish(via: Via, rec: Recording, then: Take | None = None) -> tuple[str, Taken | None]:
    """finish.lua: (``finished`` | ``recorded`` | ``lost``, the next job when ``then``)."""
    args = [rec.job_id, rec.queue, rec.worker, rec.attempt, rec.entry, rec.result_ttl,
            rec.keep, _duration_arg(rec)]
    if then is not None:
        args += [then.lease, *then.queues]
    verdict, next_job = _run(via, "finish", args)
    return decode(verdict), _taken(next_job)


def fail(via: Via, rec: Recording, then: Take | None = None) -> tuple[str, Taken | None]:
    """fail.lua: (what became of the job, see the script, and the next job when ``then``)."""
    args = [rec.job_id, rec.queue, rec.worker, rec.attempt, rec.exc_info, rec.entry,
            rec.keep, retry_delay_arg(rec), rec.final.value, _duration_arg(rec)]
    if then is not None:
        args += [then.lease, *then.queues]
    verdict, next_job = _run(via, "fail", args)
    return decode(verdict), _taken(next_job)


def _duration_arg(rec: Recording) -> str:
    """The run time for the metrics' histogram: '' when unknown."""
    return "" if rec.duration is None else f"{rec.duration:.6f}"


def retry_delay_arg(rec: Recording) -> str:
    """fail.lua's retry argument: '' for no retry, else the delay in seconds."""
    if not rec.retry:
        return ""
    return f"{rec.retry_delay:.6f}" if rec.retry_delay > 0 else "0"


def record(via: Via, rec: Recording, then: Take | None = None) -> tuple[str, Taken | None]:
    """finish or fail, whichever the recording is."""
    return (finish if rec.succeeded else fail)(via, rec, then)


def quarantine(client: Redis, job_id: str, queue: str, exc_text: str, entry: bytes) -> str:
    """fail.lua with no worker: a job that is not running, moved to failed."""
    reply = _run(client, "fail", [job_id, queue, "", "", exc_text, entry, RESULTS_KEPT,
                                  "", states.JobStatus.FAILED.value, ""])
    return decode(reply[0])


# --- maintenance (queued on the tick's pipeline) ----------------------------------------------


@dataclass(frozen=True)
class Recovered:
    requeued: int
    failed: int
    #: ids taken back (from workers whose lease lapsed, or from the worker giving them back)
    job_ids: list[str]


def parse_recovered(reply: Sequence[Any]) -> Recovered:
    return Recovered(int(reply[0]), int(reply[1]), [decode(i) for i in reply[2:]])


def schedule_due_on(pipe: Any, batch: int, queues: Sequence[str]) -> str:
    """schedule.lua: due scheduled jobs onto their queues (the reply: how many moved)."""
    scripts.get("schedule").add_to(pipe, batch, *queues)
    return "schedule"


def sample_depth_on(pipe: Any, queues: Sequence[str]) -> str:
    """depth_sample.lua: each queue's depth for this minute, unless a worker wrote it."""
    scripts.get("depth_sample").add_to(pipe, *queues)
    return "depth_sample"


def heartbeat_on(pipe: Any, worker: str, record_ttl: int, lease: float, job_id: str,
                 queue: str, whole: bool, record: Sequence[Any]) -> str:
    """heartbeat.lua: the worker's record and the lease of the job it runs."""
    scripts.get("heartbeat").add_to(pipe, worker, record_ttl, lease, job_id, queue,
                                    "1" if whole else "", *record)
    return "heartbeat"


def recover_expired_on(pipe: Any, queue: str, batch: int, losses_allowed: int) -> str:
    """recover.lua 'expired': jobs whose lease lapsed (reply: :func:`parse_recovered`)."""
    scripts.get("recover").add_to(pipe, queue, "expired", batch, losses_allowed, "")
    return "recover"


def recover_expired(client: Redis, queue: str, batch: int, losses_allowed: int) -> Recovered:
    return parse_recovered(_run(client, "recover", [queue, "expired", batch, losses_allowed,
                                                    ""]))


def give_back(client: Redis, queue: str, *workers: str) -> Recovered:
    """recover.lua 'returned': the workers' jobs back to the front of the queue."""
    return parse_recovered(_run(client, "recover", [queue, "returned", 0, 0, "", *workers]))


def take_back_lost(client: Redis, queue: str, workers: Sequence[str], losses_allowed: int,
                   reason: str) -> Recovered:
    """recover.lua 'lost': the jobs of workers known dead (a pool's crashed child), at once:
    back to their queue, or to failed per ``on_worker_lost`` and ``losses_allowed``."""
    return parse_recovered(_run(client, "recover", [queue, "lost", 0, losses_allowed, reason,
                                                    *workers]))


@dataclass(frozen=True)
class PoolRecord:
    """One record a pool's heartbeat refreshes: the pool's, a child's or a slot's."""

    name: str
    #: in the workers set (the pool and its children); a slot is found through its child
    listed: bool
    fields: Sequence[Any]


@dataclass(frozen=True)
class Lease:
    """A running job whose lease a pool's heartbeat renews, while ``worker`` holds it."""

    job_id: str
    queue: str
    worker: str


def pool_heartbeat_on(pipe: Any, record_ttl: int, lease: float,
                      records: Sequence[PoolRecord], leases: Sequence[Lease]) -> str:
    """pool_heartbeat.lua: a pool's records and the leases of the jobs its slots run."""
    args: list[Any] = [record_ttl, lease, len(records)]
    for record in records:
        args += [record.name, "1" if record.listed else "", len(record.fields) // 2,
                 *record.fields]
    for held in leases:
        args += [held.job_id, held.queue, held.worker]
    scripts.get("pool_heartbeat").add_to(pipe, *args)
    return "pool_heartbeat"


# --- operators' moves ------------------------------------------------------------------------


def requeue(client: Redis, job_ids: Sequence[str], allowed: Iterable[str],
            at_front: bool = False) -> tuple[int, list[str]]:
    """requeue.lua by id: (how many were requeued, per id 'ok' | 'missing' |
    'status:<status>')."""
    reply = _run(client, "requeue", [_statuses(allowed), "1" if at_front else "", "ids",
                                     *job_ids])
    return int(reply[0]), [decode(r) for r in reply[1:]]


def requeue_batch(client: Redis, queue: str, allowed: Iterable[str], batch: int,
                  skip: int) -> tuple[int, int, int]:
    """requeue.lua on a batch of a failed registry: (requeued, dropped, refused)."""
    reply = _run(client, "requeue", [_statuses(allowed), "", "registry", queue, batch, skip])
    return int(reply[0]), int(reply[1]), int(reply[2])


def _statuses(allowed: Iterable[str]) -> str:
    return ",".join(str(s) for s in allowed)


def cancel(client: Redis, job_ids: Sequence[str]) -> list[str]:
    """cancel.lua per id, one round trip: 'ok' | 'missing' | 'status:<status>' each."""
    return [decode(r) for r in _per_id(client, "cancel", [[i] for i in job_ids])]


def stop(client: Redis, job_ids: Sequence[str], request_ttl: int) -> list[str]:
    """stop.lua per id, one round trip: 'ok' | 'missing' | 'status:<status>' each."""
    return [decode(r) for r in _per_id(client, "stop", [[i, request_ttl] for i in job_ids])]


def delete(client: Redis, job_ids: Sequence[str]) -> int:
    """delete.lua: the jobs and every trace of them, in one step; how many existed."""
    return int(_run(client, "delete", list(job_ids)))


def delete_each(client: Redis, job_ids: Sequence[str]) -> list[bool]:
    """delete.lua per id, one round trip: whether each existed."""
    return [bool(int(r)) for r in _per_id(client, "delete", [[i] for i in job_ids])]


def empty(client: Redis, queue: str, batch: int, where: str = "queue") -> int:
    """empty.lua: delete up to a batch of jobs of a queue or registry; how many."""
    return int(_run(client, "empty", [queue, batch, where]))


def save_meta(client: Redis, job_id: str, blob: bytes) -> bool:
    """save_meta.lua: the job's meta alone; False when the job is gone."""
    return bool(_run(client, "save_meta", [job_id, blob]))


def resume_queue(client: Redis, queue: str) -> bool:
    """resume.lua: the queue out of the paused set, a blocked worker woken when jobs wait;
    whether it was paused."""
    return bool(_run(client, "resume", [queue]))


def create_group(client: Redis, name: str, ttl: int, callbacks: Sequence[Any]) -> str:
    """group_create.lua: 'ok', or 'exists' when a group has the name (nothing changed)."""
    return decode(_run(client, "group_create", [name, ttl, *callbacks]))


def _per_id(client: Redis, name: str, batches: list[list[Any]]) -> list[Any]:
    if not batches:
        return []
    if len(batches) == 1:
        return [_run(client, name, batches[0])]
    replies = _stream(client, name, batches)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


# --- periodic jobs -------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodicEntry:
    """One definition as periodic_sync.lua stores it."""

    name: str
    digest: str
    summary: str
    enabled: bool
    first_tick: int


def periodic_sync(client: Redis, entries: Sequence[PeriodicEntry], starting: bool,
                  stale: float) -> tuple[list[str], list[str]]:
    """periodic_sync.lua: (names stored anew, names removed)."""
    args: list[Any] = ["start" if starting else "repair", stale, len(entries)]
    for e in entries:
        args += [e.name, e.digest, e.summary, "1" if e.enabled else "0", e.first_tick]
    names = [decode(n) for n in _run(client, "periodic_sync", args)]
    cut = names.index("--")
    return names[:cut], names[cut + 1:]


def periodic_due_on(pipe: Any, most: int) -> str:
    """periodic_due.lua on a pipeline; parse its reply with :func:`parse_periodic_due`."""
    scripts.get("periodic_due").add_to(pipe, most)
    return "periodic_due"


@dataclass(frozen=True)
class DueTick:
    name: str
    #: the tick (whole seconds), and its score as stored (the claim compares that)
    tick: int
    score: str


def parse_periodic_due(reply: Sequence[Any]) -> tuple[float, list[DueTick]]:
    """(server time, the due ticks, earliest first)."""
    now = float(reply[0])
    pairs = reply[1:]
    due = []
    for i in range(0, len(pairs) - 1, 2):
        score = decode(pairs[i + 1])
        try:
            tick = int(float(score))
        except (TypeError, ValueError, OverflowError):
            continue  # a corrupt score: the next sync puts the entry right
        due.append(DueTick(decode(pairs[i]), tick, score))
    return now, due


def periodic_fire(client: Redis, name: str, digest: str, expected: str | None,
                  next_tick: int | None, tick: int | None, queue: str, job: bytes,
                  mode: str = "fire", overlap: bool = False) -> tuple[str, str | None]:
    """periodic_fire.lua: (outcome, job id or None); ``expected`` None: run now; ``mode``
    'fire', 'missed' or 'error' (the tick is claimed and recorded as skipped)."""
    reply = _run(client, "periodic_fire", [
        name, digest, "" if expected is None else expected,
        "" if next_tick is None else next_tick, "" if tick is None else tick, mode,
        "1" if overlap else "", queue, job,
    ])
    return decode(reply[0]), decode(reply[1]) if len(reply) > 1 else None


def periodic_enable(client: Redis, name: str, enabled: bool) -> bool:
    """periodic_enable.lua: False when there is no such periodic job."""
    return bool(_run(client, "periodic_enable", [name, "1" if enabled else "0"]))
