"""``django_jobqueue.job``: RQ's import path (``rq.job``) for the engine's names, and, when
called, the ``@job`` decorator (``django_jobqueue.decorators.job``).

``from django_jobqueue import job`` must give the decorator, but once anything has imported
this module, Python's import system makes the package's ``job`` attribute this module. So
the module itself is callable, and the package's ``job`` is this module whatever the import
order. The decorator is imported on first call: importing ``Job`` from here loads no Django.
"""

import sys as _sys
import types as _types
from typing import Any as _Any

from .engine import Callback, Dependency, Job, JobStatus, Retry, RetryLater, get_current_job

__all__ = ["Callback", "Dependency", "Job", "JobStatus", "Retry", "RetryLater",
           "get_current_job"]


class _CallableModule(_types.ModuleType):
    def __call__(self, func_or_queue: _Any = None, **options: _Any) -> _Any:
        """``@job``, ``@job("high")``, ``@job("high", timeout=60, ...)``: see decorators.job."""
        from .decorators import job

        return job(func_or_queue, **options)


_sys.modules[__name__].__class__ = _CallableModule
