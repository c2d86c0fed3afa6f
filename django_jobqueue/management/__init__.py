"""Management commands (``runworker``, ``jobqueue``) and what they share: telling the user, in
one line, that a configured Redis cannot be reached."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis

from .. import clients, conf


def redis_location(connection_name: str) -> str:
    """Where a configured connection points, for an error message (no password)."""
    options = conf.connections().get(connection_name, {})
    if "URL" in options:
        parts = urlsplit(str(options["URL"]))
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            parts = parts._replace(netloc=netloc)
        return urlunsplit(parts)
    for kind in ("EMBEDDED", "USE_REDIS_CACHE"):
        if kind in options:
            return f"{kind.lower()} {options[kind]!r}"
    if "SENTINELS" in options:
        return f"sentinel master {options.get('MASTER_NAME')!r}"
    host, port = options.get("HOST", "localhost"), options.get("PORT", 6379)
    return f"{host}:{port}/{options.get('DB', 0)} (connection {connection_name!r})"


def unreachable(connection_name: str) -> str | None:
    """None when the connection answers PING, else the one-line reason."""
    try:
        clients.get_connection(connection_name).ping()
    except (redis.RedisError, OSError) as exc:
        return f"Cannot reach Redis at {redis_location(connection_name)}: {exc}"
    return None


def queue_connection(queue_name: str) -> str:
    return conf.queue_options(queue_name).get("CONNECTION", "default")
