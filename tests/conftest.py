"""Shared pytest fixtures for the whole ``tests/`` tree (the one and only conftest).

Layout: ``tests`` is a package (``tests/__init__.py``) and pytest runs with
``--import-mode=importlib`` and ``pythonpath = ["."]`` (see pyproject.toml), so

* helpers are imported as ``from tests.harness import RedisServer, wait_until``;
* sub-directories such as ``tests/engine/`` need no ``__init__.py`` and test files in
  different sub-directories may share a base name;
* a function defined in ``tests/engine/test_x.py`` has ``__module__ ==
  "tests.engine.test_x"``, importable by dotted path from the repository root (e.g. by a
  worker subprocess started with ``cwd`` = repository root).

Redis:

* By default a private ``redis-server`` (see :mod:`tests.harness`) is started once per
  session on a free 127.0.0.1 port and removed at the end.
* With ``JOBQUEUE_TEST_REDIS_URL=redis://host:port/db`` the tests use that server instead.
  It is FLUSHALLed before every test. Tests that stop/kill/restart the server are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests.harness import ExternalRedisServer, RedisServer, find_redis_server

REDIS_URL_ENV = "JOBQUEUE_TEST_REDIS_URL"


def pytest_report_header(config: pytest.Config) -> list[str]:
    external = os.environ.get(REDIS_URL_ENV)
    if external:
        return [f"redis: external server {external} ({REDIS_URL_ENV})"]
    try:
        return [f"redis: private redis-server from {find_redis_server()}"]
    except Exception as exc:  # reported properly by the fixture
        return [f"redis: {exc}"]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | ExternalRedisServer]:
    """The Redis server of this test session (private unless JOBQUEUE_TEST_REDIS_URL is set).

    Fault tests may call ``redis_server.kill()`` / ``.stop()`` / ``.restart()``; the
    ``redis_url`` fixture starts it again for the next test if it was left down.
    """
    external = os.environ.get(REDIS_URL_ENV)
    if external:
        server = ExternalRedisServer(external)
        server.start()  # fails loudly if unreachable
        yield server
        return
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer | ExternalRedisServer) -> str:
    """URL of a running, empty (FLUSHALLed) Redis server."""
    if not redis_server.is_running:  # a previous test killed or stopped it
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    """A ``redis.Redis`` client for an empty database (bytes responses, RQ-style)."""
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


# =============================================================================================
# ENGINE-SPECIFIC FIXTURES GO BELOW THIS LINE.
#
# Add here what the engine (django_jobqueue.engine) needs around each test, built on the
# fixtures above, for example:
#
#   @pytest.fixture(autouse=True)
#   def _engine_connection(connection):
#       """Push `connection` on the engine's connection stack; pop/reset it afterwards."""
#       ...
#
#   @pytest.fixture
#   def queue(connection): ...
#
# Keep the Redis fixtures above as they are: tests/test_harness.py tests them.
# =============================================================================================


@pytest.fixture(autouse=True)
def _clean_connection_stack() -> Iterator[None]:
    """No test leaks a default connection (push_connection) into the next."""
    from django_jobqueue.engine.connections import reset_connection_stack

    reset_connection_stack()
    yield
    reset_connection_stack()


@pytest.fixture
def queue(connection: redis.Redis):
    """Queue('default') on the test connection."""
    from django_jobqueue import Queue

    return Queue("default", connection=connection)


@pytest.fixture
def count_round_trips(connection: redis.Redis):
    """``with count_round_trips(client) as counter: ...``; ``counter.value`` afterwards.

    Counts requests written to the real server by that client (a pipeline is one).
    """
    import contextlib

    @contextlib.contextmanager
    def counting(client: redis.Redis):
        counter = type("Counter", (), {"value": 0})()
        pool = client.connection_pool
        originals = {}

        def wrap(conn):
            original = conn.send_packed_command

            def send(command, check_health=True):
                counter.value += 1
                return original(command, check_health)

            originals[conn] = original
            conn.send_packed_command = send

        original_get = pool.get_connection

        def get_connection(*args, **kwargs):
            conn = original_get(*args, **kwargs)
            if conn not in originals:
                wrap(conn)
            return conn

        pool.get_connection = get_connection
        try:
            yield counter
        finally:
            pool.get_connection = original_get
            for conn, original in originals.items():
                conn.send_packed_command = original

    return counting
