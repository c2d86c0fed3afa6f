"""Stopping a job that runs over its timeout, from the main thread or any other."""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .exceptions import JobTimeoutException

_alarm_message = ""


def _on_alarm(signum, frame) -> None:  # noqa: ANN001 (signal handler)
    raise JobTimeoutException(_alarm_message)


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
