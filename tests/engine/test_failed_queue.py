"""get_failed_queue(): RQ's view of failed jobs across every queue."""

from __future__ import annotations

import sys

import pytest

from django_jobqueue import (
    Connection,
    FailedQueue,
    Job,
    JobStatus,
    NoRedisConnectionException,
    NoSuchJobError,
    Queue,
    Retry,
    Worker,
    get_failed_queue,
    pop_connection,
    push_connection,
)
from tests.engine import jobs_queue as jq
from tests.engine.jobs_queue import assert_in_one_place, places


def fail_in(queue, *job_ids):
    for job_id in job_ids:
        queue.enqueue(jq.fail, f"failure of {job_id}", job_id=job_id)
    Worker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture
def two_queues(connection):
    a, b = Queue("alpha", connection=connection), Queue("beta", connection=connection)
    fail_in(a, "a1", "a2")
    fail_in(b, "b1")
    b.enqueue(jq.noop, job_id="b-ok")  # queued, not failed: not part of the view
    return a, b


def test_view_across_queues(connection, two_queues):
    fq = get_failed_queue(connection=connection)
    assert isinstance(fq, FailedQueue)
    assert fq.count == len(fq) == 3
    assert sorted(fq.job_ids) == ["a1", "a2", "b1"]
    jobs = {job.id: job for job in fq.jobs}
    assert set(jobs) == {"a1", "a2", "b1"}
    assert jobs["a1"].origin == "alpha" and jobs["b1"].origin == "beta"
    assert all(job.get_status() == JobStatus.FAILED for job in jobs.values())
    assert "failure of b1" in jobs["b1"].exc_info


def test_empty_view(connection):
    fq = get_failed_queue(connection=connection)
    assert fq.count == 0 and fq.job_ids == [] and fq.jobs == []
    Queue("q", connection=connection).enqueue(jq.noop)
    assert fq.count == 0


def test_expired_failed_jobs_are_not_counted(connection, queue):
    from django_jobqueue.engine import keys
    from tests.harness import wait_until

    queue.enqueue(jq.fail, job_id="short", failure_ttl=1)
    queue.enqueue(jq.fail, job_id="long", failure_ttl=600)
    Worker([queue], connection=connection).work(burst=True)
    wait_until(lambda: queue.failed_job_registry.count == 1, timeout=10)
    fq = get_failed_queue(connection=connection)
    assert [job.id for job in fq.jobs] == ["long"]
    assert connection.zcard(keys.registry("failed", "default")) == 2  # reading cleans nothing
    assert fq.count == 1
    assert fq.job_ids == ["long"]


def test_with_push_connection(connection, two_queues):
    push_connection(connection)
    try:
        fq = get_failed_queue()
        assert fq.connection is connection
        assert fq.count == 3
        assert fq.requeue("a1").origin == "alpha"
        assert fq.count == 2
    finally:
        pop_connection()


def test_with_connection_context(connection, two_queues):
    with Connection(connection):
        assert get_failed_queue().count == 3
    with pytest.raises(NoRedisConnectionException):
        get_failed_queue()


def test_without_any_connection_is_a_clear_error():
    with pytest.raises(NoRedisConnectionException, match="connection"):
        get_failed_queue()


def test_requeue_returns_job_to_its_own_origin(connection, two_queues):
    a, b = two_queues
    fq = get_failed_queue(connection=connection)
    job = fq.requeue("b1")
    assert job.get_status() == JobStatus.QUEUED
    assert job.origin == "beta" and job.exc_info is None
    assert b.job_ids == ["b-ok", "b1"]
    assert a.count == 0
    assert_in_one_place(connection, "b1", "beta", "queue")
    fq.requeue(Job.fetch("a2", connection=connection))
    assert a.job_ids == ["a2"]
    assert sorted(fq.job_ids) == ["a1"]
    with pytest.raises(NoSuchJobError):
        fq.requeue("missing")


def test_requeued_job_runs_again_on_its_queue(connection, two_queues):
    a, _ = two_queues
    fq = get_failed_queue(connection=connection)
    fq.requeue("a1")
    Worker([a], connection=connection).work(burst=True)
    job = Job.fetch("a1", connection=connection)
    assert job.get_status() == JobStatus.FAILED  # it fails again, on alpha
    assert len(job.results()) == 2
    assert_in_one_place(connection, "a1", "alpha", "failed")


def test_quarantine_with_an_exception(connection, queue):
    job = queue.enqueue(jq.noop, job_id="q1", retry=Retry(max=3))
    try:
        raise RuntimeError("quarantined on purpose")
    except RuntimeError as exc:
        error = exc
    fq = get_failed_queue(connection=connection)
    returned = fq.quarantine(job, error)
    assert returned.get_status() == JobStatus.FAILED
    stored = Job.fetch("q1", connection=connection)
    assert "RuntimeError: quarantined on purpose" in stored.exc_info
    assert "Traceback" in stored.exc_info
    assert queue.count == 0  # taken off its queue, not retried
    assert fq.job_ids == ["q1"]
    assert_in_one_place(connection, "q1", "default", "failed")


def test_quarantine_with_a_string_and_with_exc_info_tuple(connection, queue):
    fq = get_failed_queue(connection=connection)
    fq.quarantine(queue.enqueue(jq.noop, job_id="s1"), "operator said no")
    assert Job.fetch("s1", connection=connection).exc_info == "operator said no"
    try:
        raise KeyError("tuple form")
    except KeyError:
        fq.quarantine(queue.enqueue(jq.noop, job_id="s2"), sys.exc_info())
    assert "KeyError: 'tuple form'" in Job.fetch("s2", connection=connection).exc_info
    assert sorted(fq.job_ids) == ["s1", "s2"]
    fq.requeue("s1")
    assert queue.job_ids == ["s1"]


def test_quarantine_of_a_finished_job(connection, queue):
    queue.enqueue(jq.noop, job_id="done")
    Worker([queue], connection=connection).work(burst=True)
    fq = get_failed_queue(connection=connection)
    fq.quarantine(Job.fetch("done", connection=connection), "bad result")
    assert_in_one_place(connection, "done", "default", "failed")


def test_quarantine_of_an_unsaved_job_is_refused(connection, queue):
    job = Job.create(jq.noop, connection=connection, origin="default")
    with pytest.raises(NoSuchJobError):
        get_failed_queue(connection=connection).quarantine(job, "nope")
    assert connection.dbsize() == 0


def test_remove(connection, two_queues):
    fq = get_failed_queue(connection=connection)
    fq.remove("a1")
    fq.remove(Job.fetch("b1", connection=connection))
    assert fq.job_ids == ["a2"]
    assert not Job.exists("a1", connection=connection)
    assert places(connection, "b1", "beta") == []


def test_empty(connection, two_queues):
    a, b = two_queues
    fail_in(a, *[f"many{i}" for i in range(1500)])
    fq = get_failed_queue(connection=connection)
    assert fq.count == 1503
    assert fq.empty() == 1503
    assert fq.count == 0 and fq.job_ids == []
    assert not Job.exists("many7", connection=connection)
    assert b.job_ids == ["b-ok"]  # queued jobs are untouched


def test_requeue_all(connection, two_queues):
    a, b = two_queues
    fq = get_failed_queue(connection=connection)
    assert fq.requeue_all() == 3
    assert fq.count == 0
    assert sorted(a.job_ids) == ["a1", "a2"]
    assert b.job_ids == ["b-ok", "b1"]
