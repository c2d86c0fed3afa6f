"""Stopping a job that runs over its timeout, or that an operator asked to stop, from the
main thread or any other.

An interrupt names the job it is meant for and lands only while that job's own code runs
(see :func:`running_job`): a request that arrives after the job ended is dropped, never
raised into the worker loop or into the next job.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .exceptions import JobTimeoutException

_alarm_message = ""
#: thread ident -> id of the job whose own code runs on that thread now
_running: dict[int, str] = {}
#: (job id, exception) another thread asked to raise in the main thread's job
_requested: tuple[str, BaseException] | None = None
#: makes "is that job still running there?" and "raise into it" one step
_lock = threading.Lock()


def _on_alarm(signum, frame) -> None:  # noqa: ANN001 (signal handler)
    global _requested
    running = _running.get(threading.get_ident())
    if _requested is not None:
        (job_id, exc), _requested = _requested, None
        if running == job_id:
            raise exc
        return  # the job ended before the request arrived: nothing to stop
    if running is not None:
        raise JobTimeoutException(_alarm_message)


def install_handler() -> None:
    """Install the SIGALRM handler (main thread only), so that interrupt() can reach a job
    even when it has no timeout."""
    signal.signal(signal.SIGALRM, _on_alarm)


@contextmanager
def running_job(job_id: str) -> Iterator[None]:
    """Mark the span in which the job's own code runs: interrupts land only inside it.

    Nested jobs (a job running another inline) restore the outer one's mark."""
    ident = threading.get_ident()
    is_main = threading.current_thread() is threading.main_thread()
    with _lock:
        outer = _running.get(ident)
        _running[ident] = job_id
    try:
        yield
    finally:
        with _lock:
            if outer is None:
                _running.pop(ident, None)
                if is_main:  # a stop landing in death_penalty's cleanup must not leave it armed
                    signal.setitimer(signal.ITIMER_REAL, 0)
            else:
                _running[ident] = outer
            if not is_main:  # drop an asynchronous exception that arrived too late
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)


def interrupt(thread_id: int, job_id: str, exc: BaseException) -> bool:
    """Raise ``exc`` in job ``job_id`` if its code is running on thread ``thread_id`` now
    (from another thread); returns whether it was sent.

    The main thread gets it through SIGALRM, which also interrupts a blocking sleep; any
    other thread gets the exception's class between two bytecodes (CPython's limitation).
    """
    global _requested
    with _lock:
        if _running.get(thread_id) != job_id:
            return False
        main = threading.main_thread().ident
        if thread_id == main and signal.getsignal(signal.SIGALRM) is _on_alarm:
            _requested = (job_id, exc)
            signal.pthread_kill(main, signal.SIGALRM)
        else:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                       ctypes.py_object(type(exc)))
        return True


@contextmanager
def death_penalty(seconds: float | None, job_id: str = "",
                  keep_handler: bool = False) -> Iterator[None]:
    """Raise JobTimeoutException in the running code after ``seconds`` (None or <= 0: never).

    Use inside :func:`running_job`. In the main thread a SIGALRM timer interrupts even a
    blocking sleep; elsewhere the exception is delivered to the thread between two bytecodes.
    A worker keeps its SIGALRM handler installed between jobs (``keep_handler``); inline jobs
    restore the previous one.
    """
    if not seconds or seconds <= 0:
        yield
        return
    global _alarm_message
    if threading.current_thread() is threading.main_thread():
        _alarm_message = f"Job {job_id} exceeded its timeout of {seconds:g} s"
        previous = signal.getsignal(signal.SIGALRM)
        if previous is not _on_alarm:
            signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if not keep_handler and previous is not _on_alarm:
                signal.signal(signal.SIGALRM, previous)
        return
    entry = _watchdog.add(seconds, threading.get_ident(), job_id)
    try:
        yield
    finally:
        _watchdog.cancel(entry)


_CANCELED = 4  # index of an entry's flag: [deadline, order, thread id, job id, canceled]
COMPACT_AT = 1000  # canceled deadlines kept at most before the heap is rebuilt


class _Watchdog:
    """One thread per process holds every deadline of the jobs running off the main thread
    (a pool's slots): arming one costs a heap push, not a thread start per job."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[list] = []
        self._order = itertools.count()
        self._pid = 0
        self._canceled = 0

    def add(self, seconds: float, thread_id: int, job_id: str) -> list:
        entry = [time.monotonic() + seconds, next(self._order), thread_id, job_id, False]
        with self._cond:
            if self._pid != os.getpid():  # first use in this process (or after a fork)
                self._pid, self._heap, self._canceled = os.getpid(), [], 0
                threading.Thread(target=self._run, name="jobqueue-timeouts",
                                 daemon=True).start()
            if self._canceled > COMPACT_AT and 2 * self._canceled > len(self._heap):
                self._heap = [e for e in self._heap if not e[_CANCELED]]  # the job ended
                heapq.heapify(self._heap)
                self._canceled = 0
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._cond.notify()
        return entry

    def cancel(self, entry: list) -> None:
        """The job ended: its deadline stays in the heap until its time or a compaction
        (the heap does not grow with the jobs run)."""
        with self._cond:
            entry[_CANCELED] = True
            self._canceled += 1

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][_CANCELED]:
                    heapq.heappop(self._heap)
                    self._canceled -= 1
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, thread_id, job_id, _ = heapq.heappop(self._heap)
            # a job that ended meanwhile is not running there any more: nothing is sent
            interrupt(thread_id, job_id, JobTimeoutException())


_watchdog = _Watchdog()
