"""What a worker publishes about itself, as others read it (the admin, stats, ``Worker.all``):
read-only code imports this, never the worker loop.

A record's ``kind`` says what wrote it: a standalone ``worker`` (also when the field is
missing: records written before pools existed), a ``pool`` (the supervisor of
``runworker --processes N --threads M``), one of its ``child`` processes, or a ``slot`` (a
thread of a child: it takes jobs under its own name, but is not in the workers set)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .. import keys
from ..connections import resolve_connection
from ..fields import lenient_number, lenient_time
from ..utils import decode, decode_text

if TYPE_CHECKING:
    from redis import Redis

WORKER, POOL, CHILD, SLOT = "worker", "pool", "child", "slot"


@dataclass
class WorkerInfo:
    """One live worker's record (see ``fields.WORKER_FIELDS``; a pool's and a child's have
    the fields below too)."""

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
    #: "worker", "pool", "child" or "slot" (as stored; a missing kind is "worker")
    kind: str = WORKER
    #: a child's or slot's pool
    pool: str | None = None
    #: a pool's number of child processes (0 when absent or corrupt)
    processes: int = 0
    #: a pool's or child's threads per child (0 when absent or corrupt)
    threads: int = 0
    #: a pool's children, in its order
    children: list[str] = field(default_factory=list)
    #: the jobs running in it now: a child's ``current_jobs``, else its ``current_job``
    current_job_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> WorkerInfo:
        """Read leniently: a corrupt number shows as 0/None rather than hiding every worker
        (this feeds the admin's overview pages)."""
        get = lambda name: decode_text(fields.get(name.encode())) or ""  # noqa: E731
        kind = get("kind") or WORKER
        current = get("current_job") or None
        if kind == CHILD:
            running = _names(get("current_jobs"))
        else:
            running = [current] if current else []
        return cls(
            name=get("name"), hostname=get("hostname"), pid=int(lenient_number(get("pid"))),
            queue_names=[q for q in get("queues").split(",") if q], state=get("state"),
            current_job_id=current, birth=lenient_time(get("birth")),
            last_heartbeat=lenient_time(get("last_heartbeat")),
            successful_job_count=int(lenient_number(get("successful_job_count"))),
            failed_job_count=int(lenient_number(get("failed_job_count"))),
            total_working_time=lenient_number(get("total_working_time")),
            kind=kind, pool=get("pool") or None, processes=_size(get("processes")),
            threads=_size(get("threads")), children=_names(get("children")),
            current_job_ids=running,
        )


def _size(raw: str) -> int:
    """A count of processes or threads: 0 when missing, corrupt or negative."""
    return max(0, int(lenient_number(raw)))


def _names(raw: str) -> list[str]:
    """A comma list, without empty entries or repeats, in its order."""
    return list(dict.fromkeys(n for n in (part.strip() for part in raw.split(",")) if n))


def live_workers(connection: Redis | None = None, queue_name: str | None = None
                 ) -> list[WorkerInfo]:
    """Live workers (standalone workers, pools and their children: every record in the
    workers set), in one round trip after the list of names (a worker whose record expired
    has dropped off); with ``queue_name``, those serving that queue."""
    connection = resolve_connection(connection)
    names = [decode(n) for n in connection.zrange(keys.workers(), 0, -1)]
    pipe = connection.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.worker(name))
    infos = [WorkerInfo.from_fields(f) for f in pipe.execute() if f]
    if queue_name is not None:
        infos = [i for i in infos if queue_name in i.queue_names]
    return infos


def grouped(workers: Iterable[WorkerInfo]) -> list[tuple[WorkerInfo, list[WorkerInfo]]]:
    """The workers as an operator reads them: each pool with its children, then the
    standalone workers, each group by name.

    A child belongs to the pool its record names, or else to a pool that lists it; one
    whose pool's record is missing (expired, corrupt) stands alone, and so does a record of
    any other kind: nothing is dropped. A pool's children come in the order it lists them,
    then any others by their number."""
    workers = list(workers)
    pools: dict[str, tuple[WorkerInfo, list[WorkerInfo]]] = {}
    for worker in workers:
        if worker.kind == POOL:
            pools.setdefault(worker.name, (worker, []))
    listed_by = {}
    for pool, _ in pools.values():
        for child in pool.children:
            listed_by.setdefault(child, pool.name)
    alone = []
    for worker in workers:
        if worker.kind == POOL and pools[worker.name][0] is worker:
            continue
        owner = None
        if worker.kind == CHILD:
            owner = worker.pool if worker.pool in pools else listed_by.get(worker.name)
        if owner is None:
            alone.append((worker, []))
        else:
            pools[owner][1].append(worker)
    for pool, children in pools.values():
        order = {name: n for n, name in enumerate(pool.children)}
        children.sort(key=lambda c: (order.get(c.name, len(order)), _number(c.name), c.name))
    by_name = lambda group: group[0].name  # noqa: E731
    return sorted(pools.values(), key=by_name) + sorted(alone, key=by_name)


_CHILD_NUMBER = re.compile(r"\.c(\d{1,18})$")


def _number(name: str) -> int:
    """k of a child named ``<pool>.c<k>`` (-1 for any other name)."""
    found = _CHILD_NUMBER.search(name)
    return int(found.group(1)) if found else -1
