"""django-jobqueue: an RQ-compatible Redis job queue with a Django layer on top.

The engine's public API is re-exported here, so ``from django_jobqueue import Queue`` works
as ``from rq import Queue`` does. The Django helpers (``job``, ``get_queue``, ...) load on
first use, so the engine imports without Django set up.
"""

from .engine import *  # noqa: F403
from .engine import __all__ as _engine_all

__version__ = "0.1.0"
#: name -> (module, attribute) of the Django helpers; attribute None: the module itself
_DJANGO_HELPERS: dict[str, tuple[str, str | None]] = {
    # the RQ path module, callable as the @job decorator: the same object whether or not
    # something imported django_jobqueue.job first (see job.py)
    "job": ("job", None),
    "get_queue": ("integration.queues", "get_queue"),
    "get_connection": ("integration.queues", "get_connection"),
    "enqueue": ("integration.queues", "enqueue"),
    "get_worker": ("integration.queues", "get_worker"),
    "UnknownQueue": ("integration.settings", "UnknownQueue"),
}
__all__ = [*_engine_all, *_DJANGO_HELPERS]


def __getattr__(name: str):  # noqa: ANN202
    if name in _DJANGO_HELPERS:
        from importlib import import_module

        module, attr = _DJANGO_HELPERS[name]
        found = import_module(f"{__name__}.{module}")
        return found if attr is None else getattr(found, attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
