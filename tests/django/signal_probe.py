"""Counts the job_started signals this process received (a test's settings import it)."""

from __future__ import annotations

import os

from django_jobqueue import signals

_started: dict[int, int] = {}


def _on_started(sender, job, worker, **kwargs) -> None:
    _started[os.getpid()] = _started.get(os.getpid(), 0) + 1


signals.job_started.connect(_on_started)


def started_here() -> int:
    return _started.get(os.getpid(), 0)
