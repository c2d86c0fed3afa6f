"""The worker's log lines, formatted cheaply: a busy pool logs thousands of lines a second,
and ``logging``'s own timestamp (a ``strftime`` per line) was most of their cost. As text
(:class:`LineFormatter`) or one JSON object a line for log shippers (:class:`JSONFormatter`,
``--log-format json``).

The per-job line carries, as ``extra`` fields: ``job_id``, ``job_func``, ``queue``,
``outcome`` (finished, failed, retried, stopped), ``duration_ms``, ``attempt`` and
``worker`` (:data:`JOB_FIELDS`), so a formatter or filter can use them without parsing the
message.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

#: the ``extra`` fields of a per-job line
JOB_FIELDS = ("job_id", "job_func", "queue", "outcome", "duration_ms", "attempt", "worker")
LOG_FORMATS = ("text", "json")

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


class JSONFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (epoch seconds), ``level``, ``logger``, ``message``,
    the per-job fields a line carries (:data:`JOB_FIELDS`), and ``exc_info`` (the
    formatted traceback) when it has one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": round(record.created, 6), "level": record.levelname,
                               "logger": record.name, "message": record.getMessage()}
        for name in JOB_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc_info"] = record.exc_text
        return json.dumps(out, default=str)


def console_handler(log_format: str = "text") -> logging.Handler:
    """A stderr handler writing text lines (:class:`LineFormatter`) or JSON lines."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, "
                         f"not {log_format!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if log_format == "json" else LineFormatter(FORMAT))
    return handler
