"""Helpers for a project's tests: run the queued jobs now, in the test process.

* ``drain(queue_names=None)``: a burst DjangoWorker over the named queues (default: every
  configured queue), one per Redis connection; returns how many jobs it processed.
* ``inline_queues()``: a context manager (and decorator) under which ``get_queue`` gives
  ``ASYNC: False`` queues, so every enqueue runs its job at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from django.test.utils import override_settings

from .integration import settings
from .integration.queues import get_worker


def drain(queue_names: Iterable[str] | None = None) -> int:
    """Run every job queued on these queues (and any they enqueue), then return the count.

    Queues keep their priority order (the order given, or the order of ``JOBQUEUE``).
    """
    config = settings.load()
    names = list(config.queues) if queue_names is None else list(queue_names)
    by_connection: dict[str, list[str]] = {}
    for name in names:
        by_connection.setdefault(config.queue(name).connection, []).append(name)
    processed = 0
    for group in by_connection.values():
        worker = get_worker(*group)
        worker.work(burst=True)
        processed += worker.successful_job_count + worker.failed_job_count
    return processed


@contextlib.contextmanager
def inline_queues() -> Iterator[None]:
    """Every configured queue runs its jobs inline (at enqueue) inside this block."""
    with override_settings(JOBQUEUE=settings.inline_setting()):
        yield
