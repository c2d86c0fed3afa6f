"""The worker's log formatter: the same lines as logging's default asctime format."""

from __future__ import annotations

import logging

from django_jobqueue.engine.logs import FORMAT, LineFormatter


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("django_jobqueue.worker", logging.INFO, __file__, 1,
                               "job %s finished", ("abc",), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_lines_match_the_standard_formatter_across_seconds():
    ours, standard = LineFormatter(FORMAT), logging.Formatter(FORMAT)
    for created in (1764590400.123, 1764590400.999, 1764590401.0, 1764590401.5, 1764590462.07):
        record = _record(created)
        assert ours.format(record) == standard.format(record)
    assert ours.format(_record(1764590401.5)).endswith(",500 INFO job abc finished")


def test_a_custom_datefmt_is_honoured():
    record = _record(1764590400.123)
    assert (LineFormatter(FORMAT, datefmt="%H").format(record)
            == logging.Formatter(FORMAT, datefmt="%H").format(record))
