"""A worker's background duties, on a thread of their own so the job loop never pays for them:
heartbeat and lease renewal, recovery of jobs whose worker died, due scheduled jobs, cleanup
of expired registry entries, and operators' requests to stop the running job."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from redis.exceptions import NoScriptError, RedisError

from . import keys, scripts

if TYPE_CHECKING:
    from .worker import Worker

logger = logging.getLogger("django_jobqueue.worker")

RECOVER_BATCH = 1000
SCHEDULE_BATCH = 1000
CLEANUP_EVERY = 60.0
#: how long a stop request waits for the job it names to start running
STOP_RETRY_TTL = 60


class Maintenance(threading.Thread):
    def __init__(self, worker: Worker) -> None:
        super().__init__(name=f"jobqueue-maintenance-{worker.name}", daemon=True)
        self.worker = worker
        self.heartbeat_interval = worker.worker_ttl / 4
        self.tick_interval = min(worker.maintenance_interval, self.heartbeat_interval)
        self._halt = threading.Event()
        self._next_heartbeat = 0.0
        self._next_cleanup = 0.0

    def run(self) -> None:
        while not self._halt.wait(self.tick_interval):
            try:
                self.tick()
            except RedisError as exc:  # the job loop reconnects; here we just try next tick
                logger.warning("worker %s: maintenance skipped: %s", self.worker.name, exc)
            except Exception:
                logger.exception("worker %s: maintenance failed", self.worker.name)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=5)

    def tick(self, force: bool = False) -> int:
        """One round trip: due scheduled jobs, and on their intervals heartbeat, recovery and
        cleanup. Returns how many jobs it moved onto queues."""
        worker = self.worker
        now = time.monotonic()
        names = [q.name for q in worker.queues]
        pipe = worker.connection.pipeline(transaction=False)
        pipe.exists(keys.suspended())
        scripts.get("schedule").add_to(pipe, SCHEDULE_BATCH, *names)
        pipe.getdel(keys.stop(worker.name))  # an operator's request to stop a job
        heartbeat = force or now >= self._next_heartbeat
        if heartbeat:
            self._next_heartbeat = now + self.heartbeat_interval
            job_id, queue = worker.current_job_ids()
            scripts.get("heartbeat").add_to(
                pipe, worker.name, int(worker.worker_ttl) + 1, worker.worker_ttl,
                job_id, queue, *worker.describe(),
            )
            for name in names:
                scripts.get("recover").add_to(pipe, name, "expired", RECOVER_BATCH, "", "",
                                              worker.max_lost_attempts)
        if now >= self._next_cleanup:
            self._next_cleanup = now + CLEANUP_EVERY
            stamp = f"({time.time()}"
            for name in names:
                for kind in ("finished", "failed", "canceled"):
                    pipe.zremrangebyscore(keys.registry(kind, name), "-inf", stamp)
            pipe.zremrangebyscore(keys.workers(), "-inf", time.time() - 2 * worker.worker_ttl)
        replies = pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, NoScriptError):  # Redis restarted: load and go again
                for name in ("schedule", "heartbeat", "recover"):
                    worker.connection.script_load(scripts.get(name).source)
                self._next_heartbeat = 0.0
                return self.tick(force=force)
            if isinstance(reply, Exception):
                raise reply
        worker.set_suspended(bool(replies[0]))
        moved = int(replies[1])
        if replies[2]:
            job_id = replies[2].decode()
            if worker.stop_job(job_id) is None:  # taken, not yet running: ask again next tick
                worker.connection.set(keys.stop(worker.name), job_id, ex=STOP_RETRY_TTL)
        if heartbeat:
            recovered = replies[4:4 + len(names)]
            for name, reply in zip(names, recovered, strict=True):
                requeued, failed, ids = int(reply[0]), int(reply[1]), reply[2:]
                if ids:
                    logger.warning(
                        "worker %s: took back job(s) %s of %s from lost workers: %d requeued, "
                        "%d failed", worker.name, ", ".join(i.decode() for i in ids), name,
                        requeued, failed,
                    )
                moved += requeued + failed
        return moved
