"""depends_on (deferred until every dependency finished), Retry (immediate and scheduled),
and ttl of a queued job that no worker took in time."""

from __future__ import annotations

import pytest

from django_jobqueue import Job, JobStatus, Queue, Result, Retry, Worker
from tests.engine import jobs_worker as jobs
from tests.harness import wait_until


def burst(queue, **kwargs):
    worker = Worker([queue], connection=queue.connection, wait_timeout=0.2, **kwargs)
    worker.work(burst=True)
    return worker


def worker_thread(queue, **kwargs):
    return jobs.in_thread(jobs.make_worker([queue], queue.connection, **kwargs))


# --- depends_on ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["job", "id", "list"])
def test_dependent_is_deferred_until_dependency_finishes(queue, connection, form):
    parent = queue.enqueue(jobs.record, "parent")
    depends_on = {"job": parent, "id": parent.id, "list": [parent]}[form]
    child = queue.enqueue(jobs.record, "child", depends_on=depends_on)
    assert child.get_status() == JobStatus.DEFERRED
    assert child.is_deferred
    assert child in queue.deferred_job_registry
    assert queue.job_ids == [parent.id]  # the dependent is not on the queue
    assert Job.fetch(child.id, connection=connection).dependency_ids == [parent.id]
    burst(queue)
    assert jobs.order(connection) == ["parent", "child"]
    assert child.get_status() == JobStatus.FINISHED
    assert child not in queue.deferred_job_registry
    assert queue.deferred_job_registry.count == 0


def test_dependent_waits_for_all_dependencies(queue, connection):
    other = Queue("other", connection=connection)
    first = queue.enqueue(jobs.record, "first")
    second = other.enqueue(jobs.record, "second")
    child = queue.enqueue(jobs.record, "child", depends_on=[first, second.id])
    assert child.get_status() == JobStatus.DEFERRED
    burst(queue)  # runs `first` only: `second` is on a queue this worker does not serve
    assert first.get_status() == JobStatus.FINISHED
    assert child.get_status() == JobStatus.DEFERRED
    assert child in queue.deferred_job_registry
    assert jobs.order(connection) == ["first"]
    burst(other)
    assert child.get_status() == JobStatus.QUEUED
    assert queue.job_ids == [child.id]
    assert child not in queue.deferred_job_registry
    burst(queue)
    assert jobs.order(connection) == ["first", "second", "child"]
    assert child.get_status() == JobStatus.FINISHED


def test_chain_of_dependencies_runs_in_order(queue, connection):
    a = queue.enqueue(jobs.record, "a")
    b = queue.enqueue(jobs.record, "b", depends_on=a)
    c = queue.enqueue(jobs.record, "c", depends_on=b)
    assert (b.get_status(), c.get_status()) == (JobStatus.DEFERRED, JobStatus.DEFERRED)
    burst(queue)
    assert jobs.order(connection) == ["a", "b", "c"]
    assert c.get_status() == JobStatus.FINISHED


def test_failed_dependency_cancels_dependent(queue, connection):
    """(Issue 11: no dependent waits forever for a parent that failed for good; more in
    test_dependencies_workflow.py.)"""
    parent = queue.enqueue(jobs.raise_error, "parent fails")
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    burst(queue)
    assert parent.get_status() == JobStatus.FAILED
    assert child.get_status() == JobStatus.CANCELED
    assert child in queue.canceled_job_registry
    assert child not in queue.deferred_job_registry
    assert queue.count == 0
    assert jobs.order(connection) == []


def test_requeued_dependency_that_then_finishes_releases_dependent(queue, connection):
    parent = queue.enqueue(jobs.fail_until, "jqtest:parent-calls", 2)
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    burst(queue)
    assert parent.get_status() == JobStatus.FAILED
    assert child.get_status() == JobStatus.CANCELED
    queue.failed_job_registry.requeue(parent)
    assert child.get_status() == JobStatus.DEFERRED
    burst(queue)
    assert parent.get_status() == JobStatus.FINISHED
    assert child.get_status() == JobStatus.FINISHED
    assert jobs.order(connection) == ["child"]


def test_dependency_retried_then_successful_releases_dependent(queue, connection):
    parent = queue.enqueue(jobs.fail_until, "jqtest:parent-calls", 2, retry=Retry(max=1))
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    burst(queue)
    assert parent.get_status() == JobStatus.FINISHED
    assert parent.result == 2
    assert child.get_status() == JobStatus.FINISHED


def test_already_finished_dependency_queues_at_once(queue, connection):
    parent = queue.enqueue(jobs.record, "parent")
    burst(queue)
    assert parent.get_status() == JobStatus.FINISHED
    child = queue.enqueue(jobs.record, "child", depends_on=parent.id)
    assert child.get_status() == JobStatus.QUEUED
    assert child not in queue.deferred_job_registry
    assert queue.job_ids == [child.id]
    burst(queue)
    assert jobs.order(connection) == ["parent", "child"]


def test_a_dependency_saved_but_never_enqueued_is_not_met(queue, connection):
    """RQ's way to build a job without enqueuing it leaves no status: that is not finished."""
    parent = Job.create(jobs.record, args=("parent",), connection=connection)
    parent.save()
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    assert child.get_status() == JobStatus.DEFERRED
    burst(queue)
    assert jobs.order(connection) == []
    assert child.get_status() == JobStatus.DEFERRED
    queue.enqueue_job(parent)  # now it runs, and then the child does
    burst(queue)
    assert jobs.order(connection) == ["parent", "child"]


@pytest.mark.parametrize("status", ["queued", "started", "scheduled", "deferred", "failed",
                                    "stopped", "canceled", ""])
def test_only_a_finished_dependency_is_met(queue, connection, status):
    """One that ended without finishing cancels the dependent at once (with its reason)."""
    parent = queue.enqueue(jobs.record, "parent")
    connection.hset(parent.key, "status", status)
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    if status in ("failed", "stopped", "canceled"):
        assert child.get_status() == JobStatus.CANCELED
        assert Job.fetch(child.id, connection=connection).canceled_by == parent.id
    else:
        assert child.get_status() == JobStatus.DEFERRED


def test_a_dependency_that_finished_and_expired_stays_met(queue, connection):
    """The dependent keeps the ids it still waits for: one that finished and then expired
    (its result_ttl ran out) is not waited for again when the other one finishes."""
    first = queue.enqueue(jobs.record, "first", result_ttl=1)
    other = Queue("other", connection=connection)
    second = other.enqueue(jobs.record, "second")
    child = queue.enqueue(jobs.record, "child", depends_on=[first, second])
    burst(queue)
    assert Job.fetch(child.id, connection=connection).dependencies_pending == [second.id]
    connection.delete(first.key)  # its result_ttl ran out
    burst(other)
    assert child.get_status() == JobStatus.QUEUED
    burst(queue)
    assert jobs.order(connection) == ["first", "second", "child"]


def test_a_dependency_later_in_the_same_batch_is_waited_for(queue, connection):
    parent_id = "parent-in-batch"
    queue.enqueue_many([
        Queue.prepare_data(jobs.record, ["child"], job_id="child-in-batch",
                           depends_on=parent_id),
        Queue.prepare_data(jobs.record, ["parent"], job_id=parent_id),
    ])
    assert Job.fetch("child-in-batch", connection=connection).get_status() == "deferred"
    burst(queue)
    assert jobs.order(connection) == ["parent", "child"]


def test_a_job_cannot_depend_on_itself(queue):
    with pytest.raises(ValueError, match="itself"):
        queue.enqueue(jobs.record, "x", job_id="me", depends_on="me")


def test_a_replaced_job_keeps_the_dependents_that_wait_for_it(queue, connection):
    """A failed job enqueued again under its id (replaced) still releases its dependents."""
    parent = queue.enqueue(jobs.raise_error, "fails", job_id="replaced-parent")
    child = queue.enqueue(jobs.record, "child", depends_on=parent)
    burst(queue)
    assert parent.get_status() == JobStatus.FAILED
    queue.enqueue(jobs.record, "parent again", job_id="replaced-parent")
    burst(queue)
    assert child.get_status() == JobStatus.FINISHED
    assert jobs.order(connection) == ["parent again", "child"]


@pytest.mark.parametrize("case", ["dependent", "retry"])
def test_outcome_is_recorded_before_next_dequeue_after_script_flush(queue, connection, case):
    """The job a finish/fail puts on the queue is seen by the worker's next dequeue, even
    when Redis has lost its script cache (restart, SCRIPT FLUSH) and scripts reload."""
    connection.script_flush()
    if case == "dependent":
        parent = queue.enqueue(jobs.record, "parent")
        job = queue.enqueue(jobs.record, "child", depends_on=parent)
    else:
        job = queue.enqueue(jobs.fail_until, "jqtest:calls", 2, retry=Retry(max=1))
    burst(queue)
    assert queue.count == 0, "a job was left queued by a burst worker"
    assert job.get_status() == JobStatus.FINISHED


# --- Retry ---------------------------------------------------------------------------------


def test_retry_reruns_failing_job_then_fails(queue, connection):
    job = queue.enqueue(jobs.raise_error, "always", retry=Retry(max=2))
    after = queue.enqueue(jobs.add, 1, 1)
    worker = burst(queue)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert job in queue.failed_job_registry
    assert job.attempts == 3
    assert job.retries_left == 0
    results = job.results()
    assert len(results) == 3
    assert all(r.type == Result.Type.FAILED for r in results)
    assert all("ValueError: always" in r.exc_string for r in results)
    assert "ValueError: always" in job.exc_info
    assert after.result == 2
    assert (worker.successful_job_count, worker.failed_job_count) == (1, 3)


def test_retry_stops_once_the_job_succeeds(queue, connection):
    job = queue.enqueue(jobs.fail_until, "jqtest:calls", 2, retry=Retry(max=3))
    burst(queue)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.attempts == 2
    assert job.retries_left == 2
    assert job.result == 2
    assert [r.type for r in job.results()] == [Result.Type.SUCCESSFUL, Result.Type.FAILED]
    assert connection.get("jqtest:calls") == b"2"
    assert job.exc_info is None  # the first attempt's failure is not the job's any more


def test_retry_with_interval_is_scheduled_then_run_when_due(queue, connection):
    job = queue.enqueue(jobs.fail_until, "jqtest:calls", 2, retry=Retry(max=1, interval=1))
    burst(queue)
    assert job.get_status() == JobStatus.SCHEDULED
    assert job in queue.scheduled_job_registry
    assert queue.scheduled_job_registry.get_scheduled_time(job) is not None
    assert queue.count == 0
    assert connection.get("jqtest:calls") == b"1"
    with worker_thread(queue, maintenance_interval=0.1):
        wait_until(lambda: job.get_status() == JobStatus.FINISHED, timeout=10)
    job.refresh()
    assert job not in queue.scheduled_job_registry
    assert job.attempts == 2
    assert job.result == 2
    assert connection.get("jqtest:calls") == b"2"


def test_scheduled_retry_that_fails_again_ends_failed(queue, connection):
    job = queue.enqueue(jobs.raise_error, "again", retry=Retry(max=1, interval=1))
    with worker_thread(queue, maintenance_interval=0.1):
        wait_until(lambda: job.get_status() == JobStatus.FAILED, timeout=10)
    job.refresh()
    assert job.attempts == 2
    assert len(job.results()) == 2
    assert job in queue.failed_job_registry
    assert job not in queue.scheduled_job_registry


# --- ttl -----------------------------------------------------------------------------------


def test_queued_job_whose_ttl_passed_is_never_run(queue, connection):
    expired = queue.enqueue(jobs.record, "expired", ttl=1)
    assert expired.get_status() == JobStatus.QUEUED
    wait_until(lambda: not Job.exists(expired.id, connection=connection), timeout=5)
    worker = burst(queue)
    assert jobs.order(connection) == []
    assert worker.failed_job_count == 0
    assert worker.successful_job_count == 0
    assert queue.failed_job_registry.count == 0
    assert queue.count == 0


def test_ttl_job_taken_in_time_runs(queue, connection):
    job = queue.enqueue(jobs.record, "in-time", ttl=60)
    expired = queue.enqueue(jobs.record, "expired", ttl=1)
    wait_until(lambda: not Job.exists(expired.id, connection=connection), timeout=5)
    after = queue.enqueue(jobs.record, "after")
    burst(queue)
    assert jobs.order(connection) == ["in-time", "after"]
    assert job.get_status() == JobStatus.FINISHED
    assert after.get_status() == JobStatus.FINISHED


def test_a_dependent_enqueued_for_later_waits_for_its_time_too(queue, connection):
    """enqueue_in with depends_on: released when the dependency finishes, it still runs at
    its time (scheduled), not at once."""
    from datetime import timedelta

    parent = queue.enqueue(jobs.record, "parent")
    child = queue.enqueue_in(timedelta(hours=1), jobs.record, "child", depends_on=parent)
    assert child.get_status() == JobStatus.DEFERRED
    burst(queue)
    assert jobs.order(connection) == ["parent"]
    assert child.get_status() == JobStatus.SCHEDULED
    assert child.id in queue.scheduled_job_registry
