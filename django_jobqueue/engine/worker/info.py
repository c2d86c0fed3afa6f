"""What a worker publishes about itself, as others read it (the admin, stats, ``Worker.all``):
read-only code imports this, never the worker loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .. import keys
from ..connections import resolve_connection
from ..fields import lenient_number, lenient_time
from ..utils import decode, decode_text

if TYPE_CHECKING:
    from redis import Redis


@dataclass
class WorkerInfo:
    """One live worker's record (see ``fields.WORKER_FIELDS``)."""

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
            name=get("name"), hostname=get("hostname"), pid=int(lenient_number(get("pid"))),
            queue_names=[q for q in get("queues").split(",") if q], state=get("state"),
            current_job_id=get("current_job") or None, birth=lenient_time(get("birth")),
            last_heartbeat=lenient_time(get("last_heartbeat")),
            successful_job_count=int(lenient_number(get("successful_job_count"))),
            failed_job_count=int(lenient_number(get("failed_job_count"))),
            total_working_time=lenient_number(get("total_working_time")),
        )


def live_workers(connection: Redis | None = None, queue_name: str | None = None
                 ) -> list[WorkerInfo]:
    """Live workers, in one round trip after the list of names (a worker whose record
    expired has dropped off); with ``queue_name``, those serving that queue."""
    connection = resolve_connection(connection)
    names = [decode(n) for n in connection.zrange(keys.workers(), 0, -1)]
    pipe = connection.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.worker(name))
    infos = [WorkerInfo.from_fields(f) for f in pipe.execute() if f]
    if queue_name is not None:
        infos = [i for i in infos if queue_name in i.queue_names]
    return infos
