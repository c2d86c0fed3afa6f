"""django-jobqueue: an RQ-compatible Redis job queue with a Django layer on top.

The engine's public API is re-exported here, so ``from django_jobqueue import Queue`` works
as ``from rq import Queue`` does.
"""

from .engine import *  # noqa: F403
from .engine import __all__ as _engine_all

__version__ = "0.1.0"
_DJANGO_HELPERS = {
    "job": ("decorators", "job"),
    "get_queue": ("queues", "get_queue"),
    "get_connection": ("queues", "get_connection"),
    "enqueue": ("queues", "enqueue"),
    "get_worker": ("queues", "get_worker"),
}
__all__ = [*_engine_all, *_DJANGO_HELPERS]


def __getattr__(name: str):  # noqa: ANN202
    """The Django helpers load on first use, so the engine imports without Django set up."""
    if name in _DJANGO_HELPERS:
        from importlib import import_module

        module, attr = _DJANGO_HELPERS[name]
        return getattr(import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
