"""django-jobqueue: an RQ-compatible Redis job queue with a Django layer on top.

The engine's public API is re-exported here, so ``from django_jobqueue import Queue`` works
as ``from rq import Queue`` does.
"""

from .engine import *  # noqa: F403
from .engine import __all__ as _engine_all

__version__ = "0.1.0"
__all__ = [*_engine_all]
