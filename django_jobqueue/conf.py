"""The ``JOBQUEUE`` setting, read lazily (``override_settings`` works), with its defaults.

    JOBQUEUE = {
        "CONNECTIONS": {"default": {"URL": "redis://localhost:6379/0"}},
        "QUEUES": {"default": {"CONNECTION": "default"}},
        "COMMIT_MODE": "on_commit",      # or "immediate"
        "SIGNING_KEY": None,             # default: derived from SECRET_KEY
        "KEY_PREFIX": None,              # default: the engine's (engine/keys.py)
        "METRICS_TOKEN": None,           # bearer token for the stats/metrics endpoints
    }
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULT_URL = "redis://localhost:6379/0"
TOP_LEVEL_KEYS = {"CONNECTIONS", "QUEUES", "COMMIT_MODE", "SIGNING_KEY", "KEY_PREFIX",
                  "METRICS_TOKEN"}
CONNECTION_KINDS = ("URL", "HOST", "SENTINELS", "USE_REDIS_CACHE", "EMBEDDED")
CONNECTION_KEYS = {
    *CONNECTION_KINDS, "PORT", "DB", "USERNAME", "PASSWORD", "SSL", "OPTIONS", "MASTER_NAME",
    "SENTINEL_OPTIONS",
}
QUEUE_KEYS = {
    "CONNECTION", "DEFAULT_TIMEOUT", "DEFAULT_RESULT_TTL", "DEFAULT_FAILURE_TTL", "SERIALIZER",
    "ASYNC",
}
COMMIT_MODES = ("on_commit", "immediate")


def raw() -> dict[str, Any]:
    value = getattr(settings, "JOBQUEUE", None)
    return value if isinstance(value, dict) else {}


def connections() -> dict[str, dict[str, Any]]:
    return raw().get("CONNECTIONS") or {"default": {"URL": DEFAULT_URL}}


def queues() -> dict[str, dict[str, Any]]:
    return raw().get("QUEUES") or {"default": {"CONNECTION": "default"}}


def queue_options(name: str) -> dict[str, Any]:
    try:
        return queues()[name]
    except KeyError:
        known = ", ".join(sorted(queues())) or "none"
        raise KeyError(
            f"Unknown queue {name!r}: JOBQUEUE['QUEUES'] configures {known}"
        ) from None


def commit_mode() -> str:
    return raw().get("COMMIT_MODE", "on_commit")


def signing_key() -> str:
    return raw().get("SIGNING_KEY") or "django-jobqueue:" + str(settings.SECRET_KEY)


def key_prefix() -> str:
    from .engine.keys import DEFAULT_PREFIX

    return raw().get("KEY_PREFIX") or DEFAULT_PREFIX


def metrics_token() -> str | None:
    value = raw().get("METRICS_TOKEN")
    return value if isinstance(value, str) and value else None
