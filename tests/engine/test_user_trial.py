"""Behaviours a new user's trial of the engine asked for (each was wrong before)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import pytest
import redis

from django_jobqueue import InvalidJobOperation, Job, JobStatus, Queue, get_failed_queue
from tests.engine import jobs_worker as jobs
from tests.engine.jobs_queue import places
from tests.harness import wait_until


def test_naive_datetime_in_enqueue_at_is_local_time_as_in_rq(queue, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        when = datetime.now() + timedelta(hours=1)  # naive, local: one hour from now
        job = queue.enqueue_at(when, jobs.add, 1, 1)
        assert job.get_status() == JobStatus.SCHEDULED
        due = queue.scheduled_job_registry.get_scheduled_time(job)
        assert abs(due - (time.time() + 3600)) < 60
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("timeout", [0.5, 0.05, timedelta(milliseconds=300)])
def test_a_fraction_of_a_second_timeout_rounds_up_and_is_enforced(queue, connection, timeout):
    job = queue.enqueue(jobs.sleep_for, 3, job_timeout=timeout)
    assert job.timeout == 1
    jobs.make_worker([queue], connection).work(burst=True)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert "JobTimeoutException" in job.exc_info


def test_zero_timeout_is_refused_with_a_hint(queue, connection):
    with pytest.raises(ValueError, match="use -1 for no timeout"):
        queue.enqueue(jobs.add, 1, 2, job_timeout=0)
    assert connection.dbsize() == 0


def test_quarantine_of_a_running_job_is_refused(queue, connection):
    job = queue.enqueue(jobs.block_until, "jqtest:never", 30)
    with jobs.in_thread(jobs.make_worker([queue], connection)):
        wait_until(lambda: job.get_status() == JobStatus.STARTED)
        with pytest.raises(InvalidJobOperation, match="is running"):
            get_failed_queue(connection).quarantine(job, Exception("no"))
        assert places(connection, job.id, "default") == ["started"]
        connection.set("jqtest:never", "go")
    wait_until(lambda: job.get_status() == JobStatus.FINISHED)


def test_reusing_a_finished_jobs_id_starts_a_fresh_history(queue, connection):
    first = queue.enqueue(jobs.add, 1, 1, job_id="reused")
    jobs.make_worker([queue], connection).work(burst=True)
    assert len(first.results()) == 1
    again = queue.enqueue(jobs.add, 2, 2, job_id="reused")
    assert again.results() == []
    jobs.make_worker([queue], connection).work(burst=True)
    assert [r.return_value for r in Job.fetch("reused", connection=connection).results()] == [4]


def test_idle_wait_ends_before_the_clients_socket_timeout(redis_url, caplog):
    client = redis.Redis.from_url(redis_url, socket_timeout=1.5)
    queue = Queue("idle", connection=client)
    worker = jobs.make_worker([queue], client, wait_timeout=5)
    caplog.set_level(logging.WARNING, logger="django_jobqueue.worker")
    with jobs.in_thread(worker):
        deadline = time.monotonic() + 3.5  # two socket timeouts of idling
        wait_until(lambda: time.monotonic() > deadline, timeout=5)
        job = queue.enqueue(jobs.add, 2, 3)
        wait_until(lambda: job.get_status() == JobStatus.FINISHED)
    assert not [r for r in caplog.records if "connection lost" in r.getMessage()]


def test_idle_wait_is_shorter_than_any_socket_timeout_the_client_has(redis_url):
    for client in (redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url,
                                                                           socket_timeout=3)):
        options = client.get_connection_kwargs()
        limit = options.get("socket_timeout") or options.get("orig_socket_timeout")
        wait = jobs.make_worker([Queue("q", connection=client)], client,
                                wait_timeout=30).blocking_wait_timeout()
        assert wait < (limit or float("inf"))
        assert wait == (limit - 1 if limit else 30)


def test_a_failed_job_is_logged_as_an_error_with_its_error(queue, connection, caplog):
    caplog.set_level(logging.INFO, logger="django_jobqueue.worker")
    job = queue.enqueue(jobs.raise_error, "kaput")
    jobs.make_worker([queue], connection).work(burst=True)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(job.id in m and "kaput" in m for m in errors), errors


def test_a_missing_module_says_to_check_the_workers_import_path(queue, connection):
    job = queue.enqueue("no_such_module_anywhere.task")
    jobs.make_worker([queue], connection).work(burst=True)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert "importable by the worker" in job.exc_info
