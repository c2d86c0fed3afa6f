"""``--reload``: restart the pool when a ``.py`` file under the project changes (for
development), with ``watchfiles`` (the ``reload`` extra)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

logger = logging.getLogger("django_jobqueue.worker")

MISSING = ("--reload needs the watchfiles package: pip install 'django-jobqueue[reload]' "
           "(or pip install watchfiles)")


def require_watchfiles() -> None:
    """Fail early, with the install command, when the watcher is not installed."""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        raise RuntimeError(MISSING) from None


def watch(paths: Sequence[str], on_change: Callable[[list[str]], None]) -> threading.Event:
    """Call ``on_change(changed .py paths)`` from a thread on every change under ``paths``;
    set the returned event to stop watching."""
    from watchfiles import PythonFilter
    from watchfiles import watch as watch_files

    stop = threading.Event()

    def run() -> None:
        try:
            for changes in watch_files(*paths, watch_filter=PythonFilter(), stop_event=stop,
                                       raise_interrupt=False):
                on_change([path for _, path in changes])
        except Exception:
            logger.exception("reload: watching %s failed", ", ".join(paths))

    threading.Thread(target=run, name="jobqueue-reload", daemon=True).start()
    return stop
