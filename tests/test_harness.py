"""Tests of the test infrastructure itself (tests/harness.py and the conftest fixtures)."""

from __future__ import annotations

import os
import socket
import time

import pytest
import redis

from tests.harness import RedisServer, free_port, wait_until


def test_server_answers_ping(redis_server, connection):
    assert redis_server.is_running
    assert redis_server.host == "127.0.0.1"
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert connection.ping() is True


# The next two tests run in file order: the second must not see the first one's key.
def test_flush_between_tests_first_writes(connection):
    connection.set("harness:leftover", "x")
    assert connection.dbsize() == 1


def test_flush_between_tests_second_sees_empty_db(connection):
    assert connection.get("harness:leftover") is None
    assert connection.dbsize() == 0


# Fault tests: with JOBQUEUE_TEST_REDIS_URL set, restart()/stop()/kill() skip the test.
def test_data_survives_restart(redis_server, connection):
    connection.set("harness:key", "value")
    connection.rpush("harness:list", "a", "b")
    old_port = redis_server.port

    redis_server.restart()

    assert redis_server.is_running
    assert redis_server.port == old_port
    # The same client reconnects by itself.
    assert connection.get("harness:key") == b"value"
    assert connection.lrange("harness:list", 0, -1) == [b"a", b"b"]


def test_stop_saves_and_start_reloads(redis_server, connection):
    connection.set("harness:stopped", "1")
    redis_server.stop()
    assert not redis_server.is_running
    assert os.path.exists(redis_server.rdb_path)
    redis_server.start()
    assert connection.get("harness:stopped") == b"1"


def test_kill_loses_unsaved_data_and_start_recovers(redis_server, connection):
    connection.set("harness:saved", "1")
    redis_server.restart()  # saves harness:saved to dump.rdb
    connection.set("harness:unsaved", "1")

    redis_server.kill()

    assert not redis_server.is_running
    with pytest.raises(redis.ConnectionError):
        connection.ping()

    redis_server.start()
    assert connection.ping() is True
    assert connection.get("harness:saved") == b"1"
    assert connection.get("harness:unsaved") is None


def test_killed_server_is_restarted_for_next_test_kill(redis_server):
    redis_server.kill()
    assert not redis_server.is_running


def test_killed_server_is_restarted_for_next_test_check(redis_server, connection):
    assert redis_server.is_running
    assert connection.ping() is True


def test_private_server_lifecycle_and_close():
    server = RedisServer()
    directory = server.dir
    assert not server.is_running
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1).close()
    try:
        server.start()
        client = redis.Redis.from_url(server.url)
        try:
            client.set("k", "v")
            for _ in range(3):  # restarting on the same port is reliable
                server.restart()
                assert client.get("k") == b"v"
        finally:
            client.close()
    finally:
        server.close()
    assert not server.is_running
    assert not os.path.exists(directory)


def test_occupied_port_gets_replaced_on_first_start():
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        server = RedisServer()
        server.port = taken  # as if free_port() had raced with another process
        try:
            server.start()
            assert server.port != taken
            client = redis.Redis.from_url(server.url)
            assert client.ping() is True
            client.close()
        finally:
            server.close()


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_wait_until_returns_truthy_value():
    start = time.monotonic()
    assert wait_until(lambda: time.monotonic() - start > 0.05 and "done", timeout=5) == "done"


def test_wait_until_times_out_with_message():
    start = time.monotonic()
    with pytest.raises(AssertionError, match="never happens"):
        wait_until(lambda: False, timeout=0.2, interval=0.01, message="never happens")
    elapsed = time.monotonic() - start
    assert 0.2 <= elapsed < 2
