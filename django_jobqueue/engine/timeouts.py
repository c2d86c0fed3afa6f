"""Stopping a job that runs over its timeout, or that an operator asked to stop, from the
main thread or any other.

An interrupt names the job it is meant for and lands only while that job's own code runs
(see :func:`running_job`): a request that arrives after the job ended is dropped, never
raised into the worker loop or into the next job.
"""

from __future__ import annotations

import ctypes
import signal
import threading
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
    target = threading.get_ident()

    def fire() -> None:
        interrupt(target, job_id, JobTimeoutException())

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
