"""A pool's supervisor: it forks ``processes`` children of ``threads`` slots each, keeps the
pool's duties (one heartbeat for every record and lease, recovery, scheduling, stop
requests), and watches its children.

- A child that dies (SIGKILL, OOM, segfault, ``os._exit``) is seen at once (the supervisor is
  its parent): its jobs are taken back as lost right away, not after their lease, and a new
  child starts.
- A job still running ``grace`` seconds past its timeout (or past an operator's stop
  request) gets its child killed: that job is failed (or stopped), the child's other jobs go
  back to their queues, and a new child starts.
- SIGTERM/SIGINT: warm shutdown (running jobs finish); a second one kills the children and
  puts every running job back on its queue.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from .. import middleware, pausing, steps
from ..periodic.runner import as_runner
from ..serializers import resolve_serializer
from ..states import DEFAULT_MAX_LOST_ATTEMPTS, JobStatus
from ..worker.leaving import refuse_a_live_namesake, register_death
from ..worker.loop import DEFAULT_WORKER_TTL, WORKER_NAME_PATTERN
from ..worker.outages import LOST_CONNECTION
from .child import ChildSpec, WorkerFactory
from .children import (
    ChildHandle,
    Killed,
    callback_killed,
    describe_exit,
    settle,
    start_child,
)
from .options import MAX_POOL_NAME, PoolOptions
from .upkeep import PoolKeeper, PoolView

logger = logging.getLogger("django_jobqueue.worker")

#: the supervisor's loop wakes at least this often (hard limits, replacing children)
LOOP_SECONDS = 0.2
#: a child that crashes this soon after it started makes the next one wait (backing off)
CRASH_LOOP_SECONDS = 1.0
#: how long a stop request waits for the job to show in a child's report
STOP_REPORT_SECONDS = 2.0


class Supervisor:
    """Run with :meth:`run` in the main thread of its own process."""

    def __init__(self, factory: WorkerFactory, queue_names: Sequence[str], connection: Redis,
                 options: PoolOptions, name: str | None = None,
                 worker_ttl: float = DEFAULT_WORKER_TTL, maintenance_interval: float = 1.0,
                 max_lost_attempts: int = DEFAULT_MAX_LOST_ATTEMPTS, serializer: Any = None,
                 before_fork: Callable[[], None] | None = None, periodic: Any = None) -> None:
        if not queue_names:
            raise ValueError("A pool needs at least one queue")
        self.factory = factory
        self.queue_names = list(queue_names)
        self.connection = connection
        self.options = options
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.name = name or f"{self.hostname}.{self.pid}.{os.urandom(3).hex()}"
        if not WORKER_NAME_PATTERN.fullmatch(self.name) or len(self.name) > MAX_POOL_NAME:
            raise ValueError(f"Invalid pool name {self.name!r} (letters, digits and _.:@-, "
                             f"at most {MAX_POOL_NAME})")
        self.worker_ttl = float(worker_ttl)
        self.maintenance_interval = maintenance_interval
        self.max_lost_attempts = max_lost_attempts
        self.serializer = resolve_serializer(serializer)
        self.before_fork = before_fork
        self.birth = time.time()
        self.children: dict[int, ChildHandle] = {}
        self.state = "starting"
        self._numbers = 0
        self._starting: ChildSpec | None = None
        self._ended: list[ChildHandle] = []  # reaped, their jobs not yet dealt with
        self._totals = [0, 0, 0.0]  # successful, failed, working time of ended children
        self._signals = 0
        self._forced = False
        self._reload = threading.Event()
        self._suspended = False
        self._stop_asked: dict[str, float] = {}  # job id -> when the operator asked
        self._restart_delay = 0.0
        self._next_start = 0.0
        self._wake_r, self._wake_w = os.pipe()
        self.keeper = PoolKeeper(connection, self.name, self.queue_names, self.worker_ttl,
                                 max_lost_attempts, self._view)
        #: the periodic jobs the pool enqueues when due (its supervisor does, not children)
        self.keeper.periodic = as_runner(periodic, self.serializer, maintenance_interval)

    def __repr__(self) -> str:
        return (f"Supervisor({self.name!r}, {self.options.processes} x "
                f"{self.options.threads}, queues={self.queue_names})")

    # --- the loop --------------------------------------------------------------------

    def run(self, burst: bool = False) -> int:
        """Serve until stopped (with ``burst``: until the queues are empty and every slot
        idle). Returns how many jobs the pool's children processed."""
        refuse_a_live_namesake(self.connection, self.name, self.hostname, self.pid,
                               self.worker_ttl)
        middleware.installed()  # set up before the children fork (they inherit it)
        previous = self._install_signals()
        watcher = self._watch_for_reload()
        reloading = False
        try:
            self._tick(force=True)
            self.state = "idle"
            logger.info("pool %s: %d process(es) x %d thread(s) serving %s", self.name,
                        self.options.processes, self.options.threads,
                        ", ".join(self.queue_names))
            reloading = self._loop(burst)
        finally:
            if watcher is not None:
                watcher.set()
            self._kill_all()
            self._settle_ended(until=time.monotonic() + (5.0 if self._forced
                                                          else self.worker_ttl))
            self.state = "stopped"
            try:
                register_death(self.connection, self.name)
            except LOST_CONNECTION:
                pass
            self._restore_signals(previous)
        processed = self._totals[0] + self._totals[1]
        logger.info("pool %s: stopped after %d job(s)", self.name, processed)
        if reloading:
            self._exec_again()
        return processed

    def _loop(self, burst: bool) -> bool:
        """Returns True when leaving to reload."""
        next_tick = time.monotonic() + self.maintenance_interval
        announced = False
        while True:
            stopping = self._signals > 0 or self._reload.is_set()
            if stopping and not announced:  # said here, not in a handler: one writer per pipe
                announced = True
                why = "warm shutdown" if self._signals else "reload"
                for handle in self.children.values():
                    handle.send("leave", why)
                    handle.asked_to_leave = True
            if self._signals > 1 and not self._forced:
                self._forced = True
                for handle in self.children.values():
                    if handle.killed is None:  # one killed for a hard limit keeps its reason
                        handle.kill([])
            if not stopping and not (burst and self._burst_over()):
                # a leaving child (recycled, killed) is replaced at once, not when it exits
                serving = sum(not h.leaving for h in self.children.values())
                for _ in range(self.options.processes - serving):
                    if not self._start_child(burst):
                        break
            elif not self.children and (not self._ended or self._forced):
                # forced: what could not be settled yet is retried for a moment in run()
                return self._reload.is_set() and self._signals == 0
            ready = wait([h.conn for h in self.children.values()] + [self._wake_r],
                         timeout=LOOP_SECONDS)
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
            for handle in self.children.values():
                handle.read_reports()
            self._reap()
            self._settle_ended()
            self._enforce_limits()
            if time.monotonic() >= next_tick:
                self._tick()
                next_tick = time.monotonic() + self.maintenance_interval

    def _burst_over(self) -> bool:
        """In burst mode, once every child has left: are the queues empty (after one tick
        moved due scheduled jobs)? A paused queue counts as empty."""
        if self.children or self._ended:
            return True  # children still serve (or leave): do not add any
        report = self._tick(force=True)
        if self._suspended:  # as a worker in burst mode: nothing is taken, so it is over
            return True
        if report is not None and report.moved:
            return False
        try:
            return pausing.jobs_to_take(self.connection, self.queue_names) == 0
        except LOST_CONNECTION:
            return False

    # --- children --------------------------------------------------------------------

    def _start_child(self, burst: bool) -> bool:
        """Fork one more child (False: not yet, children crash as they start)."""
        if time.monotonic() < self._next_start:
            return False
        self._numbers += 1
        name = f"{self.name}.c{self._numbers}"
        spec = ChildSpec(number=self._numbers, name=name,
                         slot_names=tuple(f"{name}.s{j}" for j in range(self.options.threads)),
                         burst=burst, suspended=self._suspended,
                         max_jobs=self.options.max_jobs_per_child,
                         max_memory_mb=self.options.max_memory_per_child,
                         supervisor_pid=self.pid)
        self._starting = spec
        try:
            self.keeper.beat_now()  # its slots' records, before their first take
        except LOST_CONNECTION as exc:
            logger.warning("pool %s: Redis unreachable as child %s starts: %s", self.name,
                           name, exc)
        finally:
            self._starting = None
        if self.before_fork is not None:
            self.before_fork()
        handle = start_child(spec, self.factory, [h.conn for h in self.children.values()],
                             self._in_new_child)
        self.children[handle.pid] = handle
        logger.info("pool %s: child %s started (pid %d)", self.name, name, handle.pid)
        self.keeper._next_heartbeat = 0.0  # the next tick writes its record
        return True

    def _in_new_child(self) -> None:
        """Right after the fork, in the child: drop the supervisor's signal handling."""
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            handle = self.children.pop(pid, None)
            if handle is None:
                continue
            handle.read_reports()
            handle.status = status
            handle.conn.close()
            self._totals[0] += handle.report.successful
            self._totals[1] += handle.report.failed
            self._totals[2] += handle.report.working_time
            if handle.killed is None and not handle.ended_cleanly() and not self._forced:
                logger.error("pool %s: child %s (pid %d) %s", self.name, handle.name, pid,
                             describe_exit(status))
                if time.time() - handle.birth < CRASH_LOOP_SECONDS:  # it fails as it starts
                    self._restart_delay = min(max(self._restart_delay * 2, 0.5), 10.0)
                    self._next_start = time.monotonic() + self._restart_delay
                    logger.error("pool %s: next child in %.1f s", self.name,
                                 self._restart_delay)
                else:
                    self._restart_delay = 0.0
            elif handle.report.leaving:
                logger.info("pool %s: child %s left: %s", self.name, handle.name,
                            handle.report.leaving)
            self._ended.append(handle)

    def _settle_ended(self, until: float | None = None) -> None:
        """The ended children's jobs: given back, taken back as lost, or failed."""
        while self._ended:
            handle = self._ended[0]
            try:
                settle(self.connection, handle, self.queue_names, self.serializer,
                       self.max_lost_attempts, self._forced)
                register_death(self.connection, handle.name, *handle.spec.slot_names)
            except (*LOST_CONNECTION, RedisError) as exc:  # tried again on the next turn
                if until is None or time.monotonic() >= until:
                    if until is not None:
                        logger.error("pool %s: could not deal with child %s's jobs (%s); "
                                     "their leases will lapse", self.name, handle.name, exc)
                        self._ended.clear()
                    return
                time.sleep(0.5)
                continue
            self._ended.pop(0)

    def _enforce_limits(self) -> None:
        """Kill a child running a job past its timeout + grace, or past a stop request +
        grace (code that ignores exceptions, or blocks in C)."""
        grace = self.options.grace
        now, clock = time.time(), time.monotonic()
        for handle in self.children.values():
            if handle.killed is not None:
                continue
            killed = []
            for (index, job_id, queue, attempt, started, timeout,
                 ended_as) in handle.report.running:
                slot = handle.slot_name(index)
                # a stop counts while the job's function runs; once it ended (it honoured
                # the stop, or finished), its callback is bounded by its own timeout alone
                asked = None if ended_as else self._stop_asked.get(job_id)
                if asked is not None and clock >= asked + grace:
                    text = (f"JobStopRequested: job {job_id} was killed: it did not stop "
                            f"within {grace:g} s of the request to stop it (pool child "
                            f"{handle.name}, pid {handle.pid})")
                    killed.append(Killed(slot, job_id, queue, attempt, started, text,
                                         JobStatus.STOPPED))
                elif timeout > 0 and now >= started + timeout + grace and ended_as:
                    killed.append(callback_killed(slot, job_id, queue, attempt, started,
                                                  ended_as, grace, handle))
                elif timeout > 0 and now >= started + timeout + grace:
                    text = (f"JobTimeoutException: job {job_id} was killed after exceeding "
                            f"its timeout of {timeout:g} s (still running {grace:g} s "
                            f"later; pool child {handle.name}, pid {handle.pid})")
                    killed.append(Killed(slot, job_id, queue, attempt, started, text,
                                         JobStatus.FAILED))
            if killed:
                logger.error("pool %s: killing child %s (pid %d): %s", self.name, handle.name,
                             handle.pid, "; ".join(k.exc_info.split(": ", 1)[1]
                                                   for k in killed))
                handle.kill(killed)
        # a request is for the run it was made for: dropped once no child runs that job
        running = {job for h in self.children.values() for _, job, *_ in h.report.running}
        for job_id, asked in list(self._stop_asked.items()):
            if job_id not in running and clock >= asked + STOP_REPORT_SECONDS:
                del self._stop_asked[job_id]

    def _kill_all(self) -> None:
        """Leaving: children still running are killed (their jobs go back, no loss)."""
        if not self.children:
            return
        self._forced = True
        for handle in self.children.values():
            try:
                os.kill(handle.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while self.children:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            handle = self.children.pop(pid, None)
            if handle is not None:
                handle.read_reports()
                handle.status = status
                self._ended.append(handle)
        self.children.clear()

    # --- the pool's duties -----------------------------------------------------------

    def _tick(self, force: bool = False) -> Any:
        try:
            report = self.keeper.tick(force=force)
        except (*LOST_CONNECTION, RedisError) as exc:  # the next tick tries again
            logger.warning("pool %s: maintenance skipped: %s", self.name, exc)
            return None
        if report.suspended != self._suspended:
            self._suspended = report.suspended
            logger.warning("pool %s: %s", self.name, "suspended: no new jobs until resumed"
                           if report.suspended else "resumed")
            for handle in self.children.values():
                handle.send("suspended", report.suspended)
        for job_id in report.stop_job_ids:
            self._stop_asked[job_id] = time.monotonic()
            for handle in self.children.values():
                handle.send("stop-job", job_id)
        for queue, found in report.recovered.items():
            if found.job_ids:
                logger.warning("pool %s: took back job(s) %s of %s from lost workers: %d "
                               "requeued, %d failed", self.name, ", ".join(found.job_ids),
                               queue, found.requeued, found.failed)
        return report

    def _view(self) -> PoolView:
        records, leases = [], []
        live = [(h.spec, h) for h in self.children.values()]
        if self._starting is not None:
            live.append((self._starting, None))
        totals = list(self._totals)
        busy = False
        for spec, handle in live:
            for slot in spec.slot_names:
                records.append(steps.PoolRecord(slot, False, [
                    "name", slot, "kind", "slot", "pool", self.name, "child", spec.name]))
            if handle is None:
                continue
            report = handle.report
            busy = busy or bool(report.running)
            totals[0] += report.successful
            totals[1] += report.failed
            totals[2] += report.working_time
            records.append(steps.PoolRecord(spec.name, True, [
                "name", spec.name, "kind", "child", "pool", self.name,
                "hostname", self.hostname, "pid", handle.pid,
                "queues", ",".join(self.queue_names), "birth", f"{handle.birth:.6f}",
                "state", report.state, "threads", self.options.threads,
                "current_jobs", ",".join(job for _, job, *_ in report.running),
                "successful_job_count", report.successful,
                "failed_job_count", report.failed,
                "total_working_time", f"{report.working_time:.6f}"]))
            leases += [steps.Lease(job, queue, slot) for job, queue, slot in
                       handle.held_jobs()]
        state = self.state
        if self._signals or self._reload.is_set():
            state = "stopping"
        elif self._suspended:
            state = "suspended"
        elif state != "starting":
            state = "busy" if busy else "idle"
        records.insert(0, steps.PoolRecord(self.name, True, [
            "name", self.name, "kind", "pool", "hostname", self.hostname, "pid", self.pid,
            "queues", ",".join(self.queue_names), "birth", f"{self.birth:.6f}",
            "state", state, "processes", self.options.processes,
            "threads", self.options.threads,
            "children", ",".join(h.name for h in self.children.values()),
            "successful_job_count", totals[0], "failed_job_count", totals[1],
            "total_working_time", f"{totals[2]:.6f}"]))
        return PoolView(records, leases)

    # --- signals and reloading -------------------------------------------------------

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        os.set_blocking(self._wake_w, False)
        previous: dict[int, Any] = {-1: signal.set_wakeup_fd(self._wake_w)}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, self._on_signal)
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda *_: None)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            if signum == -1:
                signal.set_wakeup_fd(handler)
            else:
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        """First SIGTERM/SIGINT: warm shutdown; second: stop now (the loop acts on both)."""
        self._signals += 1
        if self._signals == 1:
            logger.warning("pool %s: warm shutdown requested (signal %d): running jobs "
                           "finish", self.name, signum)
        elif self._signals == 2:
            logger.warning("pool %s: second signal: stopping now, running jobs go back to "
                           "their queues", self.name)

    def request_stop(self) -> None:
        """Warm shutdown, as a first SIGTERM."""
        self._on_signal(signal.SIGTERM, None)

    def _watch_for_reload(self) -> threading.Event | None:
        if not self.options.reload_paths:
            return None
        from .reload import watch

        return watch(self.options.reload_paths, self._on_change)

    def _on_change(self, changed: list[str]) -> None:
        if self._reload.is_set():
            return
        logger.warning("pool %s: %s changed: restarting (running jobs finish first)",
                       self.name, ", ".join(sorted(changed)[:3]))
        self._reload.set()
        try:
            os.write(self._wake_w, b"r")
        except OSError:
            pass

    def _exec_again(self) -> None:
        """Start this very command again, in this process (new code everywhere)."""
        argv = list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
        logging.shutdown()
        os.execv(sys.executable, [sys.executable, *argv[1:]])
