"""SENTINELS + MASTER_NAME connections, against a real Redis Sentinel that the tests start
(``redis-server <conf> --sentinel``) watching a private master: the client finds the master
through the sentinel, jobs land there and a worker runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from django.test.utils import override_settings
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, SentinelManagedSSLConnection

from django_jobqueue import get_connection, get_queue, get_worker
from django_jobqueue.integration import clients
from tests.harness import LOOPBACK, RedisServer, find_redis_server, free_port, wait_until

MASTER_NAME = "mymaster"


@dataclass
class SentinelSetup:
    master: RedisServer
    sentinel_port: int

    def jobqueue(self, **connection: object) -> dict:
        options = {"SENTINELS": [(LOOPBACK, self.sentinel_port)], "MASTER_NAME": MASTER_NAME}
        options.update(connection)
        return {"CONNECTIONS": {"default": options}, "QUEUES": {"default": {}}}

    def master_client(self, password: str | None = None) -> redis.Redis:
        return redis.Redis(LOOPBACK, self.master.port, password=password)


def _start_sentinel(master_port: int, workdir: str, extra_conf: list[str]) -> tuple:
    """A sentinel on a free port watching 127.0.0.1:master_port; returns (process, port).
    Sentinel rewrites its config file, so it lives in a private directory."""
    port = free_port()
    conf = os.path.join(workdir, "sentinel.conf")
    with open(conf, "w") as handle:
        handle.write("\n".join([
            f"port {port}", f"bind {LOOPBACK}", f"dir {workdir}", "daemonize no",
            f"logfile {os.path.join(workdir, 'sentinel.log')}",
            f"sentinel monitor {MASTER_NAME} {LOOPBACK} {master_port} 1",
            *extra_conf,
        ]) + "\n")
    process = subprocess.Popen([find_redis_server(), conf, "--sentinel"], cwd=workdir,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    return process, port


def _sentinel_knows_master(port: int, password: str | None) -> bool:
    client = redis.Redis(LOOPBACK, port, password=password, socket_timeout=1)
    try:
        reply = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER_NAME)
        return reply is not None
    except redis.RedisError:
        return False
    finally:
        client.close()


def _sentinel(master_password: str | None = None,
              sentinel_password: str | None = None) -> Iterator[SentinelSetup]:
    master = RedisServer()
    workdir = tempfile.mkdtemp(prefix="jobqueue-sentinel-")
    extra = []
    if master_password:
        extra.append(f"sentinel auth-pass {MASTER_NAME} {master_password}")
    if sentinel_password:
        extra.append(f"requirepass {sentinel_password}")
    process = None
    try:
        master.start()
        if master_password:  # set after the start: the harness checks readiness without AUTH
            redis.Redis(LOOPBACK, master.port).config_set("requirepass", master_password)
        process, port = _start_sentinel(master.port, workdir, extra)
        wait_until(lambda: process.poll() is not None or _sentinel_knows_master(
            port, sentinel_password), timeout=15, message="the sentinel did not start")
        assert process.poll() is None, open(os.path.join(workdir, "sentinel.log")).read()
        clients.reset()
        yield SentinelSetup(master, port)
    finally:
        clients.reset()
        if process is not None:
            process.kill()
            process.wait(timeout=15)
        if master_password and master.is_running:  # the harness shuts it down without AUTH
            redis.Redis(LOOPBACK, master.port, password=master_password).config_set(
                "requirepass", "")
        master.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def sentinel() -> Iterator[SentinelSetup]:
    yield from _sentinel()


@pytest.fixture
def secured_sentinel() -> Iterator[SentinelSetup]:
    """The master wants password "secret", the sentinel itself "watchword"."""
    yield from _sentinel(master_password="secret", sentinel_password="watchword")


def test_get_connection_reaches_the_master_through_the_sentinel(sentinel):
    with override_settings(JOBQUEUE=sentinel.jobqueue()):
        client = get_connection()
        client.set("jqtest:via-sentinel", "hello")
        assert sentinel.master_client().get("jqtest:via-sentinel") == b"hello"
        assert get_connection() is client  # one client per connection per process


def test_a_job_lands_on_the_master_and_a_burst_worker_runs_it(sentinel):
    with override_settings(JOBQUEUE=sentinel.jobqueue()):
        queue = get_queue()
        job = queue.enqueue("operator.add", 2, 3)
        direct = sentinel.master_client()
        assert any(job.id.encode() in key for key in direct.keys("*"))  # stored on the master
        assert queue.job_ids == [job.id]
        assert get_worker().work(burst=True)
        job.refresh()
        assert job.is_finished and job.return_value() == 5
        assert queue.job_ids == []


def test_db_selects_the_masters_database(sentinel):
    with override_settings(JOBQUEUE=sentinel.jobqueue(DB=2)):
        get_connection().set("jqtest:db2", "x")
        master_db2 = redis.Redis(LOOPBACK, sentinel.master.port, db=2)
        assert master_db2.get("jqtest:db2") == b"x"
        assert sentinel.master_client().get("jqtest:db2") is None


def test_password_reaches_the_master_and_sentinel_options_reach_the_sentinel(secured_sentinel):
    config = secured_sentinel.jobqueue(PASSWORD="secret",
                                       SENTINEL_OPTIONS={"password": "watchword"})
    with override_settings(JOBQUEUE=config):
        get_connection().set("jqtest:secured", "ok")
        assert secured_sentinel.master_client("secret").get("jqtest:secured") == b"ok"
        job = get_queue().enqueue("operator.add", 1, 1)
        assert get_worker().work(burst=True)
        job.refresh()
        assert job.return_value() == 2


def test_without_the_sentinels_password_the_master_is_not_found(secured_sentinel):
    no_retries = {"retry": Retry(NoBackoff(), 0)}  # redis-py would retry a refused AUTH
    config = secured_sentinel.jobqueue(PASSWORD="secret", SENTINEL_OPTIONS=no_retries)
    with override_settings(JOBQUEUE=config):
        with pytest.raises(MasterNotFoundError):
            get_connection().ping()


def test_a_wrong_master_password_is_an_authentication_error(secured_sentinel):
    config = secured_sentinel.jobqueue(PASSWORD="wrong", SENTINEL_OPTIONS={"password": "watchword"})
    with override_settings(JOBQUEUE=config):
        with pytest.raises(redis.AuthenticationError):
            get_connection().ping()


def test_ssl_makes_tls_connections_to_the_master():
    config = {"CONNECTIONS": {"default": {"SENTINELS": [(LOOPBACK, 1)], "MASTER_NAME": "m",
                                          "SSL": True}}}
    with override_settings(JOBQUEUE=config):  # built without I/O: nothing to connect to here
        pool = get_connection().connection_pool
        assert pool.connection_class is SentinelManagedSSLConnection
