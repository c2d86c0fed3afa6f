"""A job's callbacks (RQ's names): ``on_success``, ``on_failure`` and ``on_stopped``, each a
function, a dotted path or a :class:`Callback` with its own timeout; how they are kept in
the job's signed call data, and the Job accessors that read them back. They run in
execution.py (``run_callbacks``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .calls import Callback, callable_name
from .utils import import_attribute

#: seconds a callback may run when its Callback gives no timeout (RQ's CALLBACK_TIMEOUT)
DEFAULT_CALLBACK_TIMEOUT = 60
KINDS = ("on_success", "on_failure", "on_stopped")
#: a job's callbacks, in KINDS order
Callbacks = tuple[Callback | None, Callback | None, Callback | None]
NO_CALLBACKS: Callbacks = (None, None, None)


def as_callback(value: Any, kind: str) -> Callback | None:
    """``value`` given as ``kind`` (a function, a dotted path or a Callback), or None."""
    if value is None or isinstance(value, Callback):
        return value
    if isinstance(value, str):
        if "." not in value:
            raise TypeError(f"{kind}={value!r} is not a dotted path to a function")
        return Callback(value)
    return Callback(callable_name(value, kind))


def from_options(on_success: Any, on_failure: Any, on_stopped: Any) -> Callbacks:
    return (as_callback(on_success, "on_success"), as_callback(on_failure, "on_failure"),
            as_callback(on_stopped, "on_stopped"))


def to_stored(callbacks: Callbacks) -> tuple:
    """What the call data holds after (func_name, instance, args, kwargs): the success and
    failure names, as before on_stopped existed; the on_stopped name and the three timeouts
    follow only for a job that has them, so every other job's call data is unchanged (and
    readable by the previous version)."""
    names = tuple(cb.func_name if cb else None for cb in callbacks)
    timeouts = tuple(cb.timeout if cb else None for cb in callbacks)
    if names[2] is None and timeouts == (None, None, None):
        return names[:2]
    return (*names, timeouts)


def from_stored(stored: Sequence) -> Callbacks:
    """The inverse of :func:`to_stored`; a job stored without on_stopped reads it as None.
    Stored values are not validated again: a bad timeout reads as the default."""
    names = [n if isinstance(n, str) else None for n in (list(stored[:3]) + [None] * 3)[:3]]
    timeouts = (None, None, None)
    if len(stored) > 3 and isinstance(stored[3], list | tuple) and len(stored[3]) == 3:
        timeouts = stored[3]
    callbacks = []
    for name, timeout in zip(names, timeouts, strict=True):
        if not name:
            callbacks.append(None)
            continue
        callback = Callback.__new__(Callback)
        callback.func_name = name
        callback.timeout = timeout if isinstance(timeout, int) and timeout > 0 else None
        callbacks.append(callback)
    return tuple(callbacks)  # type: ignore[return-value]


class JobCallbacks:
    """Job's callback accessors (RQ's names); mixed into Job, which loads ``_callbacks``
    from the call data in ``_load_data``."""

    _callbacks: Callbacks = NO_CALLBACKS

    def _load_data(self) -> None:  # Job's
        raise NotImplementedError

    def _callback(self, index: int) -> Any:
        self._load_data()
        spec = self._callbacks[index]
        return import_attribute(spec.func_name) if spec else None

    def _callback_timeout(self, index: int) -> int:
        self._load_data()
        spec = self._callbacks[index]
        return spec.timeout if spec and spec.timeout else DEFAULT_CALLBACK_TIMEOUT

    @property
    def success_callback(self) -> Any:
        return self._callback(0)

    @property
    def failure_callback(self) -> Any:
        return self._callback(1)

    @property
    def stopped_callback(self) -> Any:
        return self._callback(2)

    @property
    def success_callback_timeout(self) -> int:
        return self._callback_timeout(0)

    @property
    def failure_callback_timeout(self) -> int:
        return self._callback_timeout(1)

    @property
    def stopped_callback_timeout(self) -> int:
        return self._callback_timeout(2)
