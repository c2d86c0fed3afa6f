"""Running one job: the current-job context, timeouts, outcome capture, callbacks, and the
recording of the outcome (which the worker sends with its request for the next job)."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
import traceback
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .callbacks import KINDS
from .exceptions import (
    DeserializationError,
    JobStopRequested,
    JobTimeoutException,
    SerializationError,
    StopRequested,
)
from .job import Job
from .results import Result, results_kept
from .retries import NO_RETRY, RetryLater, decide, request_of
from .serializers import PickleSerializer
from .states import DEFAULT_RESULT_TTL, DEFAULT_TIMEOUT, JobStatus
from .steps import Recording
from .timeouts import death_penalty, running_job

logger = logging.getLogger("django_jobqueue.worker")

_current_job: ContextVar[Job | None] = ContextVar("django_jobqueue_current_job", default=None)


def get_current_job(connection: Any = None, job_class: Any = None) -> Job | None:
    """The Job being run in this context (also in asyncio tasks it starts), else None."""
    return _current_job.get()


@dataclass
class Outcome:
    ok: bool
    started: float
    ended: float
    return_value: Any = None
    exc_info: str | None = None
    exception: BaseException | None = None
    retryable: bool = True
    #: an operator stopped the job (recorded as stopped, never retried)
    stopped: bool = False
    #: the job asked to be retried (raised or returned RetryLater, or returned a Retry)
    retry_request: Any = None
    #: why a failure is not retried although the job has a Retry (set by ``recording``)
    retry_note: str = ""

    @property
    def duration(self) -> float:
        return self.ended - self.started


def perform(job: Job, keep_alarm_handler: bool = False) -> Outcome:
    """Run the job's function; every exception the job raises becomes a failed Outcome.

    Only StopRequested (a forced stop from the worker) propagates.
    """
    started = time.time()
    try:
        func, args, kwargs = job.func, job.args, job.kwargs
    except Exception as exc:
        hint = ""
        if isinstance(exc, ImportError | AttributeError):
            hint = (" (is its module importable by the worker: its working directory, "
                    "PYTHONPATH or --path?)")
        return Outcome(
            ok=False, started=started, ended=time.time(), exception=exc, retryable=False,
            exc_info=(
                f"Cannot load job {job.id} ({job.func_name}){hint}: {type(exc).__name__}: "
                f"{exc}\n\n" + traceback.format_exc()
            ),
        )
    timeout = job.timeout if job.timeout is not None else DEFAULT_TIMEOUT
    token = _current_job.set(job)
    try:
        with running_job(job.id):
            if inspect.iscoroutinefunction(func):
                value = _run_coroutine(func(*args, **kwargs), timeout, job.id)
            else:
                with death_penalty(timeout, job.id, keep_alarm_handler):
                    value = func(*args, **kwargs)
                if inspect.isawaitable(value):
                    value = _run_coroutine(value, timeout, job.id)
        request = request_of(value)
        if request is not None:
            return Outcome(ok=False, started=started, ended=time.time(),
                           exception=request if isinstance(request, RetryLater)
                           else RetryLater(),  # what a failure callback sees, if refused
                           retry_request=request,
                           exc_info=f"Job {job.id} asked to be retried: {request!r}")
        return Outcome(ok=True, started=started, ended=time.time(), return_value=value)
    except StopRequested:
        raise
    except JobStopRequested:
        return Outcome(ok=False, started=started, ended=time.time(), retryable=False,
                       stopped=True, exc_info=f"Job {job.id} was stopped by request\n\n"
                                             + traceback.format_exc())
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from a job fail that job
        return Outcome(
            ok=False, started=started, ended=time.time(), exception=exc,
            exc_info=traceback.format_exc(),
            retry_request=exc if isinstance(exc, RetryLater) else None,
        )
    finally:
        _current_job.reset(token)


async def _with_timeout(coro: Coroutine, timeout: float, job_id: str) -> Any:
    if not timeout or timeout <= 0:
        return await coro
    try:
        return await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        raise JobTimeoutException(
            f"Job {job_id} exceeded its timeout of {timeout:g} s"
        ) from None


def use_event_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Run every ``async def`` job of this process on ``loop`` (running on a thread of its
    own): a pool's child does, so that its slots' coroutines run concurrently on one loop."""
    global _shared_loop
    _shared_loop = loop


_shared_loop: asyncio.AbstractEventLoop | None = None
#: how often a slot waiting for its coroutine lets a stop request reach it
_AWAIT_SLICE = 0.2


def _on_shared_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine, timeout: float,
                    job_id: str) -> Any:
    job = _current_job.get()

    async def run() -> Any:
        _current_job.set(job)  # this task's own context: right per coroutine
        return await _with_timeout(coro, timeout, job_id)

    future = asyncio.run_coroutine_threadsafe(run(), loop)
    try:
        while not future.done():  # in slices: a stop request arrives between two bytecodes
            futures_wait([future], timeout=_AWAIT_SLICE)
        return future.result()
    except BaseException:
        # cancel, and wait until the coroutine really ended: while it runs on, the job
        # still counts as running (a pool's hard limit covers one that ignores the cancel)
        loop.call_soon_threadsafe(future.cancel)
        while not future.done():
            try:
                futures_wait([future], timeout=_AWAIT_SLICE)
            except BaseException:  # noqa: S112 (a second request while it winds down)
                continue
        raise


def _run_coroutine(coro: Coroutine, timeout: float, job_id: str) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        shared = _shared_loop
        if shared is not None and shared.is_running():
            return _on_shared_loop(shared, coro, timeout, job_id)
        return asyncio.run(_with_timeout(coro, timeout, job_id))
    # called from inside a running loop (an inline job in async code): use a fresh thread
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            context.run, asyncio.run, _with_timeout(coro, timeout, job_id)
        ).result()


def run_callbacks(job: Job, outcome: Outcome,
                  arming: Callable[[float], None] | None = None) -> Outcome:
    """on_success(job, connection, result) / on_failure(job, connection, type, value, tb) /
    on_stopped(job, connection) (an operator's stop), each within its timeout.

    A success callback that raises or runs over its timeout fails the job (as in RQ); a
    failure or stopped callback that does is logged and the outcome stays. ``arming`` is
    told the callback's timeout just before it runs (a pool's slot: its hard limit then
    covers the callback).
    """
    index = 0 if outcome.ok else 2 if outcome.stopped else 1
    kind = KINDS[index]
    try:
        callback, timeout = job._callback(index), job._callback_timeout(index)
    except DeserializationError:
        return outcome  # the call data itself is unreadable: the outcome already says why
    except Exception:
        logger.exception("job %s: cannot load its %s callback", job.id, kind)
        return outcome
    if callback is None or retry_granted(job, outcome):
        return outcome
    if outcome.ok:
        args: tuple = (outcome.return_value,)
    elif outcome.stopped:
        args = ()
    else:
        exc = outcome.exception
        args = (type(exc), exc, getattr(exc, "__traceback__", None))
    if arming is not None:
        arming(timeout)
    token = _current_job.set(job)
    try:
        _call_within(callback, (job, job.connection, *args), timeout, f"{job.id}/{kind}")
    except Exception as exc:
        timed_out = isinstance(exc, JobTimeoutException)
        text = f"{kind} callback {job._callbacks[index].func_name} of job {job.id} " + (
            f"exceeded its timeout of {timeout:g} s" if timed_out else "raised")
        if outcome.ok:
            return Outcome(
                ok=False, started=outcome.started, ended=time.time(),
                exception=JobTimeoutException(text) if timed_out else exc,
                exc_info=f"Success callback failed{': ' + text if timed_out else ''}:\n"
                         + traceback.format_exc(),
            )
        logger.exception("%s", text)
    finally:
        _current_job.reset(token)
    return outcome


def _call_within(callback: Callable, args: tuple, timeout: float, marker: str) -> None:
    """Run a callback as perform runs a job: under death_penalty (SIGALRM on the main
    thread, the watchdog elsewhere), an ``async def`` one on the event loop path. The mark
    is not the job's id, so an operator's stop meant for the job does not land in it."""
    with running_job(marker):
        if inspect.iscoroutinefunction(callback):
            _run_coroutine(callback(*args), timeout, marker)
            return
        deadline = time.monotonic() + timeout
        with death_penalty(timeout, marker):
            value = callback(*args)
        if inspect.isawaitable(value):  # what it returned gets what is left of the timeout
            left = deadline - time.monotonic()
            if left <= 0:
                _close_awaitable(value)
                raise JobTimeoutException(f"Callback {marker} exceeded its timeout of "
                                          f"{timeout:g} s")
            _run_coroutine(value, left, marker)


def _close_awaitable(value: Any) -> None:
    """A coroutine that will never be awaited: closed, so Python does not warn about it."""
    close = getattr(value, "close", None)
    if callable(close):
        close()


def retry_granted(job: Job, outcome: Outcome) -> bool:
    """A retry the job asked for and will get: not a failure (no failure callback)."""
    return outcome.retry_request is not None and bool(job.retry_max) and (
        job.retries_left or 0) > 0


def recording(job: Job, outcome: Outcome, worker_name: str,
              default_result_ttl: int = DEFAULT_RESULT_TTL) -> tuple[Recording, Outcome]:
    """What records this outcome (finish or fail) for the job's worker, and the outcome it
    records (a success whose return value cannot be stored becomes a failure)."""
    common = {"job_id": job.id, "queue": job.origin, "worker": worker_name,
              "attempt": job.attempts, "keep": results_kept(job.retry_max),
              "duration": outcome.duration}
    if outcome.ok:
        try:
            entry = Result.payload(
                job.serializer, Result.Type.SUCCESSFUL, outcome.return_value, None,
                worker_name, outcome.started, outcome.ended, attempt=job.attempts,
            )
        except SerializationError as exc:
            outcome = Outcome(
                ok=False, started=outcome.started, ended=outcome.ended, exception=exc,
                exc_info=f"SerializationError: {exc}",
            )
        else:
            ttl = job.result_ttl if job.result_ttl is not None else default_result_ttl
            return Recording(**common, entry=entry, succeeded=True, result_ttl=ttl), outcome
    stopped = outcome.stopped
    decision = NO_RETRY
    if outcome.retryable and not stopped:
        decision = decide(job.retry_policy, job.retries_left, outcome.exception,
                          outcome.retry_request, job.id)
    exc_info = outcome.exc_info or ""
    if decision.why_not:
        outcome.retry_note = decision.why_not
        if outcome.retry_request is not None:  # the job's own request: say why it failed
            exc_info += f"\nNot retried: {decision.why_not}"
    result_type = (Result.Type.STOPPED if stopped else Result.Type.RETRIED
                   if decision.retry and outcome.retry_request is not None
                   else Result.Type.FAILED)
    try:
        entry = Result.payload(job.serializer, result_type, None, exc_info,
                               worker_name, outcome.started, outcome.ended,
                               attempt=job.attempts)
    except SerializationError:  # an unknown serializer: keep the outcome with the default
        entry = Result.payload(PickleSerializer, result_type, None, exc_info,
                               worker_name, outcome.started, outcome.ended,
                               attempt=job.attempts)
    return Recording(
        **common, entry=entry, succeeded=False, exc_info=exc_info,
        retry=decision.retry, retry_delay=decision.delay,
        final=JobStatus.STOPPED if stopped else JobStatus.FAILED,
    ), outcome
