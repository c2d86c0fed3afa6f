"""``@job``: a function that stays callable, plus ``.delay()`` and ``.enqueue()``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .engine import limits
from .engine.job import Job
from .engine.queue import RESERVED_KWARGS
from .engine.retries import Retry
from .engine.uniqueness import check_options
from .integration import settings


def job(func_or_queue: Any = None, **options: Any) -> Any:
    """``@job``, ``@job("high")`` or ``@job("high", timeout=60, result_ttl=..., retry=...,
    priority=...)``. An unknown queue name or option is an error here, at decoration."""
    _check_options(options)
    if callable(func_or_queue):
        return _wrap(func_or_queue, "default", options)
    queue_name = func_or_queue or options.pop("queue", "default")
    settings.load().queue(queue_name)  # UnknownQueue (a KeyError) naming the configured ones
    return lambda func: _wrap(func, queue_name, options)


#: what @job takes: the queue, and enqueue's reserved keywords (a pipeline is per call)
_DECORATOR_OPTIONS = frozenset(RESERVED_KWARGS) - {"pipeline"} | {"queue"}


def _check_options(options: dict[str, Any]) -> None:
    """A typo (``timout=5``) fails at decoration, not at the first ``.delay()``."""
    if "connection" in options:
        raise TypeError("@job(connection=...): a queue's connection comes from "
                        "JOBQUEUE['QUEUES'] (its CONNECTION); give the queue's name instead")
    unknown = sorted(set(options) - _DECORATOR_OPTIONS)
    if unknown:
        raise TypeError(f"@job() got unexpected keyword argument(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(_DECORATOR_OPTIONS))}")
    if options.get("retry") is not None and not isinstance(options["retry"], Retry):
        raise TypeError(f"@job(retry=...) takes a Retry(...), not {options['retry']!r}")
    if {"unique", "unique_for", "unique_key"} & set(options):  # bad values fail here too
        check_options(options.get("unique", False), options.get("unique_for"),
                      options.get("unique_key"))
    if {"rate_limit", "concurrency_limit", "limit_key"} & set(options):
        limits.resolve(options.get("rate_limit"), options.get("concurrency_limit"),
                       options.get("limit_key"))


def _wrap(func: Callable, queue_name: str, options: dict[str, Any]) -> Callable:
    if "timeout" in options:
        options = {**options, "job_timeout": options["timeout"]}
        del options["timeout"]

    def enqueue(*args: Any, **kwargs: Any) -> Job:
        """Enqueue with reserved keywords (job_timeout, priority, depends_on, ...)."""
        from .integration.queues import get_queue

        return get_queue(queue_name).enqueue(func, *args, **{**options, **kwargs})

    def delay(*args: Any, **kwargs: Any) -> Job:
        """Enqueue ``func(*args, **kwargs)``: every keyword reaches the function."""
        from .integration.queues import get_queue

        return get_queue(queue_name).enqueue_call(func, args=args, kwargs=kwargs, **_call(options))

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    wrapper.delay = delay  # type: ignore[attr-defined]
    wrapper.enqueue = enqueue  # type: ignore[attr-defined]
    wrapper.queue_name = queue_name  # type: ignore[attr-defined]
    return wrapper


def _call(options: dict[str, Any]) -> dict[str, Any]:
    """enqueue()'s keyword names -> enqueue_call()'s."""
    return {("timeout" if k == "job_timeout" else k): v for k, v in options.items()}
