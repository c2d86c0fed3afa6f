"""A pool's background duties, done by its supervisor for all its children and slots in one
round trip per tick (the worker's keeper, lease.py, with the pool's heartbeat and its stop
requests): the Redis traffic of an idle pool does not grow with its size."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis
from redis.exceptions import NoScriptError

from .. import keys, scripts, steps
from ..utils import decode
from ..worker.lease import LeaseKeeper, TickReport

#: stop requests one tick reads at most
STOP_BATCH = 100


@dataclass(frozen=True)
class PoolView:
    """What the heartbeat writes: the records (the pool's, its children's, their slots')
    and the jobs its slots run."""

    records: Sequence[steps.PoolRecord]
    leases: Sequence[steps.Lease]


class PoolKeeper(LeaseKeeper):
    """One tick of a pool's duties; ``view()`` says what the pool holds now."""

    def __init__(self, connection: Redis, pool_name: str, queue_names: Sequence[str],
                 worker_ttl: float, max_lost_attempts: int,
                 view: Callable[[], PoolView]) -> None:
        super().__init__(connection, pool_name, queue_names, worker_ttl, max_lost_attempts,
                         snapshot=lambda: None)  # type: ignore[arg-type, return-value]
        self.view = view

    def _ask_for_stop_requests(self, pipe: Any) -> None:
        pipe.spop(keys.stops(self.worker_name), STOP_BATCH)

    def _read_stop_requests(self, reply: Any, now: float, report: TickReport) -> None:
        report.stop_job_ids = [decode(job_id) for job_id in reply or ()]

    def _beat_on(self, pipe: Any) -> str:
        held = self.view()
        return steps.pool_heartbeat_on(pipe, int(self.worker_ttl) + 1, self.worker_ttl,
                                       held.records, held.leases)

    def beat_now(self) -> None:
        """Just the heartbeat (before a child starts: its slots' records must be there
        before their first take)."""
        for _ in range(2):
            pipe = self.connection.pipeline(transaction=False)
            used = self._beat_on(pipe)
            reply = pipe.execute(raise_on_error=False)[0]
            if isinstance(reply, NoScriptError):  # Redis restarted: load and go again
                scripts.load(self.connection, [used])
                continue
            if isinstance(reply, Exception):
                raise reply
            return
