"""Hooks around the engine's steps, for error reporting and tracing (Sentry, OpenTelemetry)
and whatever else a team plugs in: Dramatiq's middleware, cut to the points this engine
has. A hook that raises is logged and never breaks the step it watches.

- ``enqueuing(queue_name, jobs)``: a context manager around one enqueue round trip (a
  producer span); it may set ``job.trace_context`` (a dict of text, e.g. W3C
  ``traceparent``), which travels in the job's hash to the worker.
- ``running(job)``: a context manager around one execution (the function and its
  callbacks), in the process that runs it (a worker, or a pool's slot).
- ``ended(job, outcome, recording)``: the execution's outcome is decided (inside
  ``running``, before the worker writes it): ``recording.succeeded``, ``recording.retry`` (a
  retry follows) and ``recording.final`` (failed or stopped) say how it ends; a corrupt job
  that could not be read gets ``ended`` without ``running``.
- ``killed(job, recording)``: a pool's supervisor killed the child running the job (a hard
  time limit, or a stop it ignored) and records it as ``recording`` says (its
  ``exc_info``, ``retry`` and ``final``); the job's own process is gone, so ``ended`` never
  fired for that run. ``job`` is fetched by the supervisor (None when it is gone or
  corrupt).

- ``flush()``: the process is about to exit (a pool's child): send what is buffered.

``install()`` adds one (``uninstall()`` takes it away); the integrations shipped here install
themselves when their library is importable (``install_defaults``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

logger = logging.getLogger("django_jobqueue.middleware")


class Middleware:
    """Override the hooks you need (see the module docstring); the rest do nothing."""

    def enqueuing(self, queue_name: str, jobs: Sequence[Any]) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def running(self, job: Any) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def ended(self, job: Any, outcome: Any, recording: Any) -> None:
        return None

    def killed(self, job: Any, recording: Any) -> None:
        return None

    def flush(self) -> None:
        """The process is about to exit (a pool's child leaves with ``os._exit``, which runs
        no atexit handler): send what is buffered."""
        return None


_installed: list[Middleware] = []
_defaults_done = False
_defaults_lock = threading.Lock()


def install(middleware: Middleware) -> Middleware:
    """Add a middleware (once: installing the same object again does nothing)."""
    if middleware not in _installed:
        _installed.append(middleware)
    return middleware


def uninstall(middleware: Middleware) -> None:
    if middleware in _installed:
        _installed.remove(middleware)


def installed() -> list[Middleware]:
    """The installed middlewares (the defaults installed first, once)."""
    if not _defaults_done:
        install_defaults()
    return _installed


def install_defaults() -> None:
    """The shipped integrations whose library is importable, installed once per process
    (``observability/``): each checks, when it fires, whether its library is set up."""
    global _defaults_done
    with _defaults_lock:  # a pool child's slots start at once: each must see them all
        if _defaults_done:
            return
        from .observability import default_middlewares

        for middleware in default_middlewares():
            install(middleware)
        _defaults_done = True


class _Guarded(contextlib.AbstractContextManager):
    """A middleware's context manager whose own errors (entering or leaving) are logged,
    never raised into the step, and which never swallows the step's exception."""

    def __init__(self, what: str, middleware: Middleware, manager: Any) -> None:
        self.what, self.middleware, self.manager = what, middleware, manager
        self.entered = False

    def __enter__(self) -> None:
        _safely(self.what, self.middleware, self.manager.__enter__)
        self.entered = True

    def __exit__(self, *exc_info: Any) -> bool:
        _safely(self.what, self.middleware, lambda: self.manager.__exit__(*exc_info))
        return False


def _safely(what: str, middleware: Middleware, call: Any) -> Any:
    try:
        return call()
    except Exception:
        logger.exception("middleware %r: %s raised", middleware, what)
        return None


_NOTHING = contextlib.nullcontext()


def enqueuing(queue_name: str, jobs: Sequence[Any]) -> contextlib.AbstractContextManager:
    """Every middleware's ``enqueuing``, nested in install order."""
    return _combined("enqueuing", lambda m: m.enqueuing(queue_name, jobs))


def running(job: Any) -> contextlib.AbstractContextManager:
    """Every middleware's ``running``, nested in install order."""
    return _combined("running", lambda m: m.running(job))


def _combined(what: str, ask: Any) -> contextlib.AbstractContextManager:
    """The context managers the middlewares give (a null context or None: nothing to do),
    guarded and nested; none at all (no middleware, or none active) is a shared null
    context, so that a job pays next to nothing for an idle integration."""
    managers = []
    for middleware in installed():
        manager = _safely(what, middleware, lambda m=middleware: ask(m))
        if manager is not None and not isinstance(manager, contextlib.nullcontext):
            managers.append(_Guarded(what, middleware, manager))
    if not managers:
        return _NOTHING
    return managers[0] if len(managers) == 1 else _nested(managers)


@contextlib.contextmanager
def _nested(managers: Sequence[contextlib.AbstractContextManager]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for manager in managers:
            stack.enter_context(manager)
        yield


def ended(job: Any, outcome: Any, recording: Any) -> None:
    for middleware in installed():
        _safely("ended", middleware, lambda m=middleware: m.ended(job, outcome, recording))


def killed(job: Any, recording: Any) -> None:
    for middleware in installed():
        _safely("killed", middleware, lambda m=middleware: m.killed(job, recording))


def flush() -> None:
    """Every middleware's ``flush`` (a pool child calls it before it exits)."""
    for middleware in list(_installed):
        _safely("flush", middleware, middleware.flush)
