"""A pool's child process: its slots (one thread each, the first on the main thread so that
SIGALRM can interrupt a job there), one event loop for their ``async def`` jobs, and a
control thread that reports to the supervisor and relays its requests.

The child talks to Redis only through its slots' takes and outcomes; heartbeats, leases,
recovery and scheduling are the supervisor's (one component per pool). It reports what its
slots run twice a second, and only when that changed, so a busy pool pays no message per job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from .. import execution, middleware, timeouts
from ..worker.loop import Worker
from .slots import SlotLink

logger = logging.getLogger("django_jobqueue.worker")

#: how often the control thread looks at the slots and the supervisor's messages
REPORT_SECONDS = 0.25
#: a stop request for a job whose code has not started yet is tried again this long
STOP_RETRY_SECONDS = 60.0
#: a stop request for a job none of the slots holds is dropped after this long
STOP_UNHELD_SECONDS = 1.0

WorkerFactory = Callable[[str], Worker]


@dataclass(frozen=True)
class ChildSpec:
    """What a child is to be, decided by the supervisor before the fork."""

    number: int
    name: str
    slot_names: tuple[str, ...]
    burst: bool
    suspended: bool
    max_jobs: int | None
    max_memory_mb: float | None
    supervisor_pid: int


@dataclass(frozen=True)
class Report:
    """A child's state as its supervisor holds it: per slot whose job's code runs (slot
    index, job id, queue, attempt, started at, timeout, what the function ended as: for the
    hard limit; the timeout grows to cover a running callback's, and a stop request no
    longer counts once the function ended), per slot holding a job until its outcome is
    recorded (slot index, job id, queue: for its lease), and its counts. ``done``: the final
    report of a child that ends as it should."""

    running: tuple[tuple[int, str, str, int, float, float, str], ...]
    successful: int
    failed: int
    working_time: float
    state: str
    leaving: str = ""
    held: tuple[tuple[int, str, str], ...] = ()
    done: bool = False


def child_main(spec: ChildSpec, conn: Connection, factory: WorkerFactory) -> None:
    """The child's whole life (it never returns: the process exits)."""
    code = 0
    try:
        code = _Child(spec, conn, factory).run()
    except BaseException:
        logger.exception("pool child %s: failed", spec.name)
        code = 1
    finally:
        middleware.flush()  # os._exit runs no atexit handler: buffered spans/events go now
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: S110 (nothing left to tell)
                pass
        os._exit(code)


def _die_with_supervisor(supervisor_pid: int) -> None:
    """Linux: the kernel kills this child when its supervisor dies, so no job runs on here
    after the leases stop being renewed (elsewhere the control thread notices the orphan
    within a report interval and leaves)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: S110 (not Linux)
        return
    if os.getppid() != supervisor_pid:  # it died before the call above
        os._exit(1)


class _Child:
    def __init__(self, spec: ChildSpec, conn: Connection, factory: WorkerFactory) -> None:
        self.spec = spec
        self.conn = conn
        self.workers = [factory(name) for name in spec.slot_names]
        for worker in self.workers:
            worker._set_suspended(spec.suspended)
        if spec.number == 1:  # once per pool, from a process that unpickles
            self.workers[0]._warn_if_unsigned()
        self.link = SlotLink(spec.name, self.workers, spec.max_jobs, spec.max_memory_mb)
        self._stops: dict[str, tuple[float, float]] = {}  # job id -> (asked, try until)
        self._last: Report | None = None
        self._done = threading.Event()
        self._crashed = False

    def run(self) -> int:
        _die_with_supervisor(self.spec.supervisor_pid)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides (Ctrl-C)
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
            target=self.link.leave, args=("SIGTERM",), daemon=True).start())
        timeouts.install_handler()
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="jobqueue-async", daemon=True).start()
        execution.use_event_loop(loop)
        control = threading.Thread(target=self._control, name="jobqueue-control", daemon=True)
        control.start()
        threads = [threading.Thread(target=self._serve, args=(w,), name=f"jobqueue-{w.name}",
                                    daemon=True) for w in self.workers[1:]]
        for thread in threads:
            thread.start()
        self._serve(self.workers[0])
        for thread in threads:
            thread.join()
        self._done.set()
        control.join(timeout=5)
        final = self._report()
        self._send(replace(final, done=not self._crashed))
        loop.call_soon_threadsafe(loop.stop)
        return 1 if self._crashed else 0

    def _serve(self, worker: Worker) -> None:
        try:
            worker.serve(self.link, burst=self.spec.burst)
        except BaseException:
            logger.exception("pool child %s: slot %s failed", self.spec.name, worker.name)
            self._crashed = True
            self.link.leave(f"slot {worker.name} failed")

    # --- the control thread ----------------------------------------------------------

    def _control(self) -> None:
        while not self._done.is_set():
            try:
                if self.conn.poll(REPORT_SECONDS):
                    self._handle(self.conn.recv())
            except (EOFError, OSError):
                self.link.leave("its supervisor is gone")
                self._done.wait(REPORT_SECONDS)
                continue
            if os.getppid() != self.spec.supervisor_pid:
                self.link.leave("its supervisor is gone")
            self._retry_stops()
            report = self._report()
            if report != self._last:
                self._send(report)

    def _handle(self, message: Sequence[Any]) -> None:
        kind = message[0]
        if kind == "stop-job":
            now = time.monotonic()
            self._stops[message[1]] = (now, now + STOP_RETRY_SECONDS)
            self._retry_stops()
        elif kind == "suspended":
            for worker in self.workers:
                worker._set_suspended(bool(message[1]))
            self.link.wake_all()
        elif kind == "leave":
            self.link.leave(message[1])

    def _retry_stops(self) -> None:
        """Deliver the stop requests; one for a job whose code has not started yet is tried
        again, one for a job no slot holds (it ended, or is another child's) is dropped soon,
        so that it never stops a later run of that job."""
        now = time.monotonic()
        for job_id, (asked, until) in list(self._stops.items()):
            answers = [worker.stop_job(job_id) for worker in self.workers]
            if True in answers or now >= until:
                del self._stops[job_id]
            elif None not in answers and now >= asked + STOP_UNHELD_SECONDS:
                del self._stops[job_id]

    def _report(self) -> Report:
        running = tuple(
            (index, r.job_id, r.queue, r.attempt, r.started_at, r.timeout, r.ended_as)
            for index, r in ((i, w.running) for i, w in enumerate(self.workers))
            if r is not None)
        held = tuple((i, *w._current) for i, w in enumerate(self.workers) if w._current[0])
        busy = any(w.state == "busy" for w in self.workers)
        suspended = self.workers[0]._suspended
        state = ("stopping" if self.link.leaving else "suspended" if suspended
                 else "busy" if busy else "idle")
        return Report(
            running=running,
            successful=sum(w.successful_job_count for w in self.workers),
            failed=sum(w.failed_job_count for w in self.workers),
            working_time=round(sum(w.total_working_time for w in self.workers), 3),
            state=state, leaving=self.link.leaving, held=held,
        )

    def _send(self, report: Report) -> None:
        try:
            self.conn.send(report)
            self._last = report
        except (OSError, ValueError):
            pass  # the supervisor is gone: the slots are leaving already
