"""What a job calls and how it is named: callables, job ids, callback specs (and Retry,
re-exported from retries.py)."""

from __future__ import annotations

import inspect
import re
from typing import Any

from .exceptions import InvalidJobId
from .retries import Retry, RetryLater  # noqa: F401 (their home is retries.py; kept here)
from .serializers import serializer_path
from .utils import parse_duration

JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")


class Callback:
    """An on_success/on_failure/on_stopped callback given by function or dotted path, stored
    by name, with the seconds it may run (None: DEFAULT_CALLBACK_TIMEOUT, as in RQ)."""

    def __init__(self, func: Any, timeout: Any = None) -> None:
        self.func_name = func if isinstance(func, str) else callable_name(func, "callback")
        if "." not in self.func_name:
            raise TypeError(f"callback {func!r} is not a dotted path to a function")
        self.timeout = parse_duration(timeout, "callback timeout")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"callback timeout must be a positive number of seconds, "
                             f"not {timeout!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Callback) and (other.func_name, other.timeout) == (
            self.func_name, self.timeout)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Callback({self.func_name!r}, timeout={self.timeout!r})"


def validate_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidJobId(f"Invalid job id {job_id!r}: use 1 to 128 of [A-Za-z0-9_-]")
    return job_id


def callable_name(func: Any, what: str = "function") -> str:
    """The importable dotted name of a module-level function, builtin or class."""
    module = getattr(func, "__module__", None) or "builtins"
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if not qualname:
        raise TypeError(f"{what} {func!r} has no importable name")
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise TypeError(
            f"{what} {qualname!r} cannot be imported by a worker: use a module-level function"
        )
    return f"{module}.{qualname}"


def split_callable(func: Any) -> tuple[str, Any]:
    """(func_name, instance) for anything a job may call."""
    if isinstance(func, str):
        if "." not in func:
            raise TypeError(f"{func!r} is not a dotted path to a function")
        return func, None
    owner = getattr(func, "__self__", None)
    bound = owner is not None and not inspect.ismodule(owner) and not inspect.isclass(owner)
    if (inspect.ismethod(func) or inspect.isbuiltin(func)) and bound:
        return func.__name__, owner  # bound method: the instance travels with the job
    if inspect.isroutine(func) or inspect.isclass(func):
        return callable_name(func), None
    if callable(func):
        return "__call__", func  # a callable instance
    raise TypeError(f"Expected a function or a dotted path, got {func!r}")


ON_WORKER_LOST = ("requeue", "fail")


def validate_priority(priority: Any) -> int:
    if not isinstance(priority, int) or isinstance(priority, bool) or not (
        -100 <= priority <= 100
    ):
        raise ValueError(f"priority must be an int from -100 to 100, not {priority!r}")
    return priority


def validate_on_worker_lost(value: Any) -> str:
    if value not in ON_WORKER_LOST:
        raise ValueError(f"on_worker_lost must be one of {ON_WORKER_LOST}, not {value!r}")
    return value


def explain_unserializable(job: Any, exc: Exception) -> str:
    """Name the argument that cannot be serialized, so the error says what to fix."""
    suspects: list[tuple[str, Any]] = [(f"argument {i}", a) for i, a in enumerate(job._args)]
    suspects += [(f"keyword argument {k!r}", v) for k, v in job._kwargs.items()]
    suspects.append(("the instance of the bound method", job._instance))
    for label, value in suspects:
        try:
            job.serializer.dumps(value)
        except Exception as inner:
            return (
                f"Cannot enqueue {job.func_name}: {label} ({type(value).__name__}) cannot be "
                f"serialized with {serializer_path(job.serializer)}: {inner}"
            )
    return f"Cannot enqueue {job.func_name}: its call cannot be serialized: {exc}"
