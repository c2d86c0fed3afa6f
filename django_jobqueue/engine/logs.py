"""The worker's log lines, formatted cheaply: a busy pool logs thousands of lines a second,
and ``logging``'s own timestamp (a ``strftime`` per line) was most of their cost."""

from __future__ import annotations

import logging
import time

FORMAT = "%(asctime)s %(levelname)s %(message)s"


class LineFormatter(logging.Formatter):
    """``logging.Formatter`` with the same default ``asctime`` (``2026-12-01 12:00:00,123``),
    its seconds formatted once per second rather than once per line."""

    _second: int | None = None
    _text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._text = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created))
            self._second = second
        return f"{self._text},{int(record.msecs):03d}"


def console_handler() -> logging.Handler:
    """A stderr handler with :class:`LineFormatter`."""
    handler = logging.StreamHandler()
    handler.setFormatter(LineFormatter(FORMAT))
    return handler
