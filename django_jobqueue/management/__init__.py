"""Management commands (``runworker``, ``jobqueue``) and what they share: telling the user, in
one line, that a configured Redis cannot be reached or that the settings name no such queue."""

from __future__ import annotations

import redis
from django.core.exceptions import ImproperlyConfigured

from ..integration import settings
from ..integration.clients import get_client

#: settings errors a command reports as its CommandError: their message says what to fix
SETTINGS_ERRORS = (settings.UnknownQueue, settings.UnknownConnection, ImproperlyConfigured)


def unreachable(connection_name: str) -> str | None:
    """None when the connection answers PING, else the one-line reason."""
    try:
        get_client(connection_name).ping()
    except (redis.RedisError, OSError) as exc:
        location = settings.load().connection(connection_name).location()
        return f"Cannot reach Redis at {location}: {exc}"
    return None
