"""Stopping a job that runs over its timeout, from the main thread or any other."""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .exceptions import JobTimeoutException


@contextmanager
def death_penalty(seconds: float | None, job_id: str = "") -> Iterator[None]:
    """Raise JobTimeoutException in the running code after ``seconds`` (None or <= 0: never).

    In the main thread a SIGALRM timer interrupts even a blocking sleep; elsewhere the
    exception is delivered to the thread between two bytecodes.
    """
    if not seconds or seconds <= 0:
        yield
        return
    message = f"Job {job_id} exceeded its timeout of {seconds:g} s"
    if threading.current_thread() is threading.main_thread():
        def handler(signum, frame) -> None:  # noqa: ANN001
            raise JobTimeoutException(message)

        previous = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
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
