"""What the slots of one pool's child share: who listens to Redis while they are idle, how
many jobs the child has run, and whether it is leaving.

Idle slots do not each block on Redis (an idle pool's traffic must not grow with its
threads): one slot listens, the others park on a condition. A wake-up token, or a take that
says more jobs wait, wakes one parked slot to take as well, so a burst of jobs fills the
child's slots one round trip each.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import keys

if TYPE_CHECKING:
    from ..worker.loop import Worker

logger = logging.getLogger("django_jobqueue.worker")

#: parked slots re-check their flags this often (no Redis traffic)
PARK_SECONDS = 1.0


def resident_mb() -> float:
    """This process's resident memory in MB (Linux: /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class SlotLink:
    """Shared by the slots of one child (their workers call it from their loops)."""

    def __init__(self, child_name: str, workers: Sequence[Worker],
                 max_jobs: int | None = None, max_memory_mb: float | None = None) -> None:
        self.child_name = child_name
        self.workers = list(workers)
        self.wake_key = keys.wake(child_name)
        self.max_jobs = max_jobs
        self.max_memory_mb = max_memory_mb
        self.processed = 0
        #: why the child leaves ('' while it serves)
        self.leaving = ""
        self._cond = threading.Condition()
        self._listening = False
        self._parked = 0
        self._wakeups = 0

    # --- called by the slots ---------------------------------------------------------

    def job_done(self, worker: Worker) -> None:
        """After each job: recycle the child when it has run enough jobs or grown too big."""
        with self._cond:
            self.processed += 1
            processed = self.processed
        if self.max_jobs is not None and processed >= self.max_jobs:
            self.leave(f"it ran {processed} jobs (max_jobs_per_child {self.max_jobs})")
        elif self.max_memory_mb is not None:
            rss = resident_mb()
            if rss > self.max_memory_mb:
                self.leave(f"its memory reached {rss:.0f} MB (max_memory_per_child "
                           f"{self.max_memory_mb:g} MB)")

    def took(self, more: bool) -> None:
        """A take found a job; with ``more`` waiting, one parked slot takes too."""
        if more:
            self._wake_one()

    def wait_for_work(self, worker: Worker) -> None:
        """Wait until work may be there: listen to Redis if no other slot does, else park
        (a parked slot takes over listening as soon as the role falls vacant)."""
        with self._cond:
            suspended = worker._suspended
            while True:
                if self.leaving or worker._stop_requested:
                    return
                if not self._listening:  # vacant (now, or since parking): this slot listens
                    self._listening = True
                    break
                if self._park(worker, suspended):
                    return  # woken to take, or its suspension changed
        woken = False
        try:
            woken = worker.listen(self.wake_key)
        finally:
            with self._cond:
                self._listening = False
                self._cond.notify()  # a parked slot takes the role over
        if woken:
            self._wake_one()

    # --- called by the child's control thread ------------------------------------------

    def leave(self, reason: str) -> None:
        """The child leaves warm: every slot finishes its job and stops."""
        with self._cond:
            if self.leaving:
                return
            self.leaving = reason
        logger.info("pool child %s: leaving: %s", self.child_name, reason)
        for worker in self.workers:
            worker.request_stop()
        self.wake_all()

    def wake_all(self) -> None:
        """Parked slots look at their flags again, and the listening one returns."""
        with self._cond:
            self._wakeups += self._parked
            self._cond.notify_all()
        try:
            client = self.workers[0].connection
            pipe = client.pipeline(transaction=False)
            pipe.lpush(self.wake_key, "1")
            pipe.expire(self.wake_key, 60)
            pipe.execute()
        except Exception as exc:  # the listener's wait times out by itself
            logger.debug("pool child %s: could not wake its listener: %s", self.child_name, exc)

    # --- inside ------------------------------------------------------------------------

    def _park(self, worker: Worker, suspended: bool) -> bool:
        """Park (the lock held) until woken to take (True), or until the listening role is
        vacant or a flag changed (False)."""
        self._parked += 1
        try:
            while not (self._wakeups or self.leaving or worker._stop_requested
                       or worker._suspended != suspended or not self._listening):
                self._cond.wait(PARK_SECONDS)
            if self._wakeups:
                self._wakeups -= 1
                return True
            return worker._suspended != suspended
        finally:
            self._parked -= 1

    def _wake_one(self) -> None:
        with self._cond:
            if self._parked > self._wakeups:
                self._wakeups += 1
                self._cond.notify()
