"""The middlewares shipped with the engine (middleware.py): each is installed when its
library is importable, and checks, when it fires, whether that library is set up (a Sentry
client initialised, an OpenTelemetry tracer provider set), so that an app which has the
library but does not use it pays next to nothing."""

from __future__ import annotations

import importlib.util
from typing import Any


def default_middlewares() -> list[Any]:
    found: list[Any] = []
    if importable("sentry_sdk"):
        from .sentry import SentryMiddleware

        found.append(SentryMiddleware())
    if importable("opentelemetry.trace"):
        from .otel import OpenTelemetryMiddleware

        found.append(OpenTelemetryMiddleware())
    return found


def importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
