"""Job functions and Sentry transports for tests/engine/test_sentry.py. Events never leave
the machine: in this process a transport keeps them in memory; in a pool (a subprocess)
another writes each one as a JSON file in ``$JOBQUEUE_TEST_SENTRY_DIR``, which the test
reads.

A pool runs ``sentry_for_pool`` through ``--init`` (the supervisor calls it before forking
its children, so both have the client), as an app sets Sentry up."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import sentry_sdk
from sentry_sdk.transport import Transport

from django_jobqueue import RetryLater

DSN = "http://key@localhost/1"
EVENTS_DIR_ENV = "JOBQUEUE_TEST_SENTRY_DIR"
LEAK_TAG = "left.by.job"


class MemoryTransport(Transport):
    """Keeps every error event sent in this process (``events``, cleared by the test)."""

    events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Any) -> None:
        event = envelope.get_event()
        if event is not None:
            MemoryTransport.events.append(event)


class FileTransport(Transport):
    """Writes every error event as ``<pid>-<random>.json`` (written then renamed: a reader
    never sees half a file)."""

    def capture_envelope(self, envelope: Any) -> None:
        event = envelope.get_event()
        if event is None:
            return
        directory = Path(os.environ[EVENTS_DIR_ENV])
        name = f"{os.getpid()}-{uuid.uuid4().hex}"
        partial = directory / f"{name}.part"
        partial.write_text(json.dumps({"pid": os.getpid(), "event": event}, default=str))
        partial.rename(directory / f"{name}.json")


def read_events(directory: Path) -> list[dict[str, Any]]:
    """What the pool's processes sent: ``{"pid": ..., "event": ...}`` each."""
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


def sentry_for_pool() -> None:
    """``--init tests.engine.jobs_sentry.sentry_for_pool``: Sentry as an app would set it
    up (default integrations), sending to FileTransport."""
    sentry_sdk.init(dsn=DSN, transport=FileTransport, send_client_reports=False)


# --------------------------------------------------------------------------- job functions


def fails(message: str = "boom", *, code: int = 0) -> None:
    sentry_sdk.add_breadcrumb(message=f"about to fail: {message}")
    raise ValueError(message)


def succeeds(value: int = 1) -> int:
    return value


def leaves_traces(value: str) -> str:
    """Sets a tag and a breadcrumb through sentry-sdk's API, then succeeds."""
    sentry_sdk.set_tag(LEAK_TAG, value)
    sentry_sdk.add_breadcrumb(message=f"breadcrumb of {value}")
    return value


def asks_for_a_retry() -> None:
    raise RetryLater(0)
