"""Stopping a job that runs over its timeout, or that an operator asked to stop, from the
main thread or any other."""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .exceptions import JobTimeoutException

_alarm_message = ""
#: an exception another thread asked to raise in the main thread's job (see interrupt())
_requested: BaseException | None = None
#: whether the main thread is running a job's own code (only then does a request land)
_job_running = False


def _on_alarm(signum, frame) -> None:  # noqa: ANN001 (signal handler)
    global _requested
    if _requested is not None:
        exc, _requested = _requested, None
        if _job_running:
            raise exc
        return  # the job ended before the request arrived: nothing to stop
    raise JobTimeoutException(_alarm_message)


def install_handler() -> None:
    """Install the SIGALRM handler (main thread only), so that interrupt() can reach a job
    even when it has no timeout."""
    signal.signal(signal.SIGALRM, _on_alarm)


@contextmanager
def running_job() -> Iterator[None]:
    """Mark the span in which the job's own code runs (requests outside it are dropped)."""
    global _job_running
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _job_running = True
    try:
        yield
    finally:
        _job_running = False


def interrupt(thread_id: int, exc: BaseException) -> None:
    """Raise ``exc`` in the job running on thread ``thread_id``, from another thread.

    The main thread gets it through SIGALRM, which also interrupts a blocking sleep; any
    other thread gets the exception's class between two bytecodes (CPython's limitation).
    """
    global _requested
    main = threading.main_thread().ident
    if thread_id == main and signal.getsignal(signal.SIGALRM) is _on_alarm:
        _requested = exc
        signal.pthread_kill(main, signal.SIGALRM)
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(type(exc)))


@contextmanager
def death_penalty(seconds: float | None, job_id: str = "",
                  keep_handler: bool = False) -> Iterator[None]:
    """Raise JobTimeoutException in the running code after ``seconds`` (None or <= 0: never).

    In the main thread a SIGALRM timer interrupts even a blocking sleep; elsewhere the
    exception is delivered to the thread between two bytecodes. A worker keeps its SIGALRM
    handler installed between jobs (``keep_handler``); inline jobs restore the previous one.
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
    done = threading.Event()

    def fire() -> None:
        if not done.is_set():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(target), ctypes.py_object(JobTimeoutException)
            )

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        done.set()
        timer.cancel()
