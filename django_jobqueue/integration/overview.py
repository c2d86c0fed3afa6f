"""The counts of the configured queues and the live workers, read with one round trip per
Redis server (the admin's dashboard, its stats and metrics, ``manage.py jobqueue stats``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from ..engine import overview
from ..engine.worker.info import WorkerInfo
from .clients import get_client
from .settings import UnknownQueue, load


@dataclass
class Overview:
    counts: list[overview.QueueCounts]
    workers: list[WorkerInfo]
    #: connection name -> error text, for connections that could not be read
    errors: dict[str, str] = field(default_factory=dict)
    #: names of the queues whose counts are unknown (their connection could not be read)
    unreachable: set[str] = field(default_factory=set)


def read_overview(queue_names: list[str] | None = None) -> Overview:
    """Counts of the configured queues and the live workers: one round trip per Redis
    server, however many queues (connection names that reach the same server are read
    together, so their workers are listed once)."""
    config = load()
    names = list(config.queues) if queue_names is None else queue_names
    result = Overview(counts=[], workers=[])
    servers: dict[Any, tuple[Any, list[str], list[str]]] = {}
    for name in names:
        if name not in config.queues:
            raise UnknownQueue(name, config.queues)
        conn_name = config.queues[name].connection
        try:
            client = get_client(conn_name)
        except Exception as exc:  # a bad connection setting (manage.py check says which)
            result.errors[conn_name] = f"{type(exc).__name__}: {exc}"
            result.unreachable.add(name)
            continue
        _, conn_names, queues_here = servers.setdefault(server_key(client), (client, [], []))
        if conn_name not in conn_names:
            conn_names.append(conn_name)
        queues_here.append(name)
    found: dict[str, overview.QueueCounts] = {}
    for client, conn_names, queues_here in servers.values():
        try:
            counts, workers = overview.overview(client, queues_here)
        except (RedisError, OSError) as exc:
            for conn_name in conn_names:
                result.errors[conn_name] = f"{type(exc).__name__}: {exc}"
            result.unreachable.update(queues_here)
            continue
        found.update((c.name, c) for c in counts)
        result.workers.extend(workers)
    result.counts = [found.get(name) or overview.QueueCounts(name) for name in names]
    return result


def server_key(client: Any) -> tuple:
    """What identifies the Redis server (and database) a client talks to."""
    pool = client.connection_pool
    options = pool.connection_kwargs
    return (type(pool).__name__, getattr(pool, "service_name", None), options.get("host"),
            options.get("port"), options.get("path"), options.get("db"))
