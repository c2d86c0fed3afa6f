"""How SIGTERM/SIGINT stop a worker: the first signal is a warm shutdown (the job in hand
finishes, its outcome is recorded), a second one stops at once (the running job goes back to
the front of its queue). Mixed into the loop, whose state decides what a signal raises."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from .. import timeouts
from ..exceptions import ShutdownRequested, StopRequested

logger = logging.getLogger("django_jobqueue.worker")


class ShutdownSignals:
    """The loop sets ``_state``, ``_interruptible`` (a signal may raise into the job or the
    blocking wait now) and reads ``_stop_requested`` / ``_force_stop``."""

    name: str
    _state: str
    _stop_requested = False
    _force_stop = False
    _interruptible = False

    def request_stop(self) -> None:
        """Warm shutdown: finish the current job, then leave (also from another thread)."""
        self._stop_requested = True

    def _install_signal_handlers(self) -> None:
        self._previous_handlers = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        # jobs keep the timeout handler installed between them; give the old one back at the end
        self._previous_handlers[signal.SIGALRM] = signal.getsignal(signal.SIGALRM)
        timeouts.install_handler()  # also how an operator's stop reaches a job

    def _restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        """First SIGTERM/SIGINT: warm shutdown (the job in hand finishes); second: stop now
        (the running job goes back to the front of its queue)."""
        busy = self._state == "busy"
        if self._stop_requested:
            self._force_stop = True
            logger.warning("worker %s: second signal, stopping now", self.name)
            if self._interruptible:
                raise StopRequested() if busy else ShutdownRequested()
            return
        self._stop_requested = True
        logger.warning("worker %s: warm shutdown requested (signal %d); "
                       "finishing the current job", self.name, signum)
        if self._interruptible and not busy:
            raise ShutdownRequested()
