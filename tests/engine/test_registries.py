"""Per-queue registries: reading, removing, expiry vs cleanup, requeue, and the invariant that
a job is in exactly one place (its queue or one registry) after every move."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_jobqueue import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    InvalidJobOperation,
    Job,
    JobStatus,
    NoSuchJobError,
    Queue,
    Retry,
    ScheduledJobRegistry,
    StartedJobRegistry,
    Worker,
)
from django_jobqueue.engine import keys
from tests.engine import jobs_queue as jq
from tests.engine.jobs_queue import assert_in_one_place, places, running_worker
from tests.harness import wait_until


def burst(queue, max_jobs=None):
    Worker([queue], connection=queue.connection).work(burst=True, max_jobs=max_jobs)


def failed_jobs(queue, n, **options):
    jobs = queue.enqueue_many([Queue.prepare_data(jq.fail, (f"f{i}",), job_id=f"f{i}",
                                                  **options) for i in range(n)])
    burst(queue)
    return jobs


# --- construction and reading ------------------------------------------------------------


def test_registry_construction_forms(queue, connection):
    by_queue = [queue.started_job_registry, queue.finished_job_registry,
                queue.failed_job_registry, queue.deferred_job_registry,
                queue.scheduled_job_registry, queue.canceled_job_registry]
    classes = [StartedJobRegistry, FinishedJobRegistry, FailedJobRegistry,
               DeferredJobRegistry, ScheduledJobRegistry, CanceledJobRegistry]
    for registry, cls in zip(by_queue, classes, strict=True):
        assert type(registry) is cls
        assert registry.name == "default"
        assert registry.key == keys.registry(cls.kind, "default")
        assert cls(queue=queue).key == registry.key
        assert cls("default", connection=connection).key == registry.key
        assert registry.count == 0 and registry.get_job_ids() == []


def test_failed_registry_count_ids_remove_contains(queue, connection):
    failed_jobs(queue, 5)
    registry = FailedJobRegistry("default", connection=connection)
    assert registry.count == len(registry) == 5
    assert registry.get_job_ids() == [f"f{i}" for i in range(5)]
    assert registry.get_job_ids(1, 2) == ["f1", "f2"]
    assert registry.get_job_ids(3) == ["f3", "f4"]
    assert "f0" in registry and Job.fetch("f1", connection=connection) in registry
    assert "other" not in registry
    assert [j.id for j in registry.get_jobs(0, 2)] == ["f0", "f1"]
    registry.remove("f0")
    registry.remove(Job.fetch("f1", connection=connection), delete_job=True)
    assert registry.count == 3 and "f0" not in registry and "f1" not in registry
    assert Job.exists("f0", connection=connection)
    assert not Job.exists("f1", connection=connection)


def test_finished_registry(queue, connection):
    jobs = [queue.enqueue(jq.add, i, i) for i in range(3)]
    burst(queue)
    registry = queue.finished_job_registry
    assert registry.count == 3
    assert registry.get_job_ids() == [j.id for j in jobs]
    assert all(j in registry for j in jobs)
    registry.remove(jobs[0])
    assert registry.count == 2 and jobs[0] not in registry


def test_started_registry_holds_running_jobs(queue, connection, redis_url):
    job = queue.enqueue(jq.gate, "test:gate")
    registry = StartedJobRegistry(queue=queue)
    with running_worker([queue], redis_url):
        wait_until(lambda: job.id in registry)
        assert registry.count == 1 and registry.get_job_ids() == [job.id]
        assert job.get_status() == JobStatus.STARTED
        assert_in_one_place(connection, job.id, "default", "started")
        connection.rpush("test:gate", "go")
        wait_until(lambda: job.id in queue.finished_job_registry)
    assert registry.count == 0


def test_deferred_scheduled_canceled_registries(queue, connection):
    parent = queue.enqueue(jq.noop)
    children = [queue.enqueue(jq.noop, depends_on=parent, job_id=f"c{i}") for i in range(3)]
    later = queue.enqueue_in(timedelta(hours=1), jq.noop, job_id="later")
    deferred, scheduled = queue.deferred_job_registry, queue.scheduled_job_registry
    assert deferred.count == 3 and deferred.get_job_ids(1, 1) == ["c1"]
    assert scheduled.count == 1 and later in scheduled
    children[2].cancel()
    later.cancel()
    canceled = CanceledJobRegistry("default", connection=connection)
    assert canceled.count == 2 and set(canceled.get_job_ids()) == {"c2", "later"}
    assert deferred.count == 2 and scheduled.count == 0
    deferred.remove("c0")
    assert deferred.get_job_ids() == ["c1"]


def test_registries_are_per_queue(connection):
    a, b = Queue("a", connection=connection), Queue("b", connection=connection)
    failed_jobs(a, 2)
    b.enqueue(jq.noop)
    burst(b)
    assert a.failed_job_registry.count == 2 and b.failed_job_registry.count == 0
    assert a.finished_job_registry.count == 0 and b.finished_job_registry.count == 1


# --- expiry: count ignores expired entries, only cleanup() removes them -------------------


@pytest.mark.parametrize("kind", ["finished", "failed", "canceled"])
def test_expired_entries_are_not_counted_but_only_cleanup_removes_them(queue, connection,
                                                                       kind):
    if kind == "finished":
        job = queue.enqueue(jq.noop, result_ttl=1)
        keep = queue.enqueue(jq.noop, result_ttl=600)
        burst(queue)
    elif kind == "failed":
        job = queue.enqueue(jq.fail, failure_ttl=1)
        keep = queue.enqueue(jq.fail, failure_ttl=600)
        burst(queue)
    else:
        job = queue.enqueue(jq.noop, failure_ttl=1)
        keep = queue.enqueue(jq.noop, failure_ttl=600)
        job.cancel()
        keep.cancel()
    registry = queue._registry(kind)
    raw_key = keys.registry(kind, "default")
    assert registry.count == 2 and connection.zcard(raw_key) == 2
    wait_until(lambda: registry.count == 1, timeout=10)
    for _ in range(3):  # reading the count is side-effect free
        assert registry.count == 1
    assert connection.zcard(raw_key) == 2
    assert registry.cleanup() == 1
    assert connection.zcard(raw_key) == 1
    assert registry.get_job_ids() == [keep.id]


def test_listing_agrees_with_count_after_expiry(queue, connection):
    queue.enqueue(jq.noop, result_ttl=1)
    keep = queue.enqueue(jq.noop, result_ttl=600)
    burst(queue)
    registry = queue.finished_job_registry
    wait_until(lambda: registry.count == 1, timeout=10)
    assert connection.zcard(registry.key) == 2  # not cleaned up by reading
    assert registry.get_job_ids() == [keep.id]


# --- requeue -----------------------------------------------------------------------------


def test_requeue_by_job_or_id(queue, connection):
    failed_jobs(queue, 2)
    registry = queue.failed_job_registry
    job = registry.requeue("f0")
    assert job.get_status() == JobStatus.QUEUED and job.exc_info is None
    registry.requeue(Job.fetch("f1", connection=connection), at_front=True)
    assert registry.count == 0
    assert queue.job_ids == ["f1", "f0"]
    assert_in_one_place(connection, "f0", "default", "queue")
    with pytest.raises(InvalidJobOperation):
        registry.requeue("f0")  # queued, not failed
    with pytest.raises(NoSuchJobError):
        registry.requeue("never-existed")


def test_requeue_all_in_batches(queue, connection, count_round_trips):
    failed_jobs(queue, 2500)
    registry = queue.failed_job_registry
    assert registry.count == 2500
    FailedJobRegistry("warm-up", connection=connection).requeue_all()  # loads the script
    with count_round_trips(connection) as trips:
        assert registry.requeue_all(batch_size=1000) == 2500
    assert trips.value == 4  # 3 batches + the empty one that ends the loop
    assert registry.count == 0 and connection.zcard(registry.key) == 0
    assert queue.count == 2500
    assert set(queue.get_job_ids()) == {f"f{i}" for i in range(2500)}
    for job_id in ("f0", "f1234", "f2499"):
        assert_in_one_place(connection, job_id, "default", "queue")


def test_requeue_all_drops_entries_whose_job_expired(queue, connection):
    failed_jobs(queue, 3)
    connection.delete(keys.job("f1"))  # as if its failure_ttl ran out
    assert queue.failed_job_registry.requeue_all() == 2
    assert queue.failed_job_registry.count == 0
    assert sorted(queue.job_ids) == ["f0", "f2"]


# --- the invariant: a job is in exactly one place ----------------------------------------


def test_one_place_through_enqueue_start_finish(queue, connection, redis_url):
    job = queue.enqueue(jq.gate, "test:gate", job_id="life")
    assert_in_one_place(connection, "life", "default", "queue")
    with running_worker([queue], redis_url):
        wait_until(lambda: job.is_started)
        assert_in_one_place(connection, "life", "default", "started")
        connection.rpush("test:gate", "go")
        wait_until(lambda: job.is_finished)
    assert_in_one_place(connection, "life", "default", "finished")


def test_one_place_through_fail_requeue_and_retry(queue, connection):
    queue.enqueue(jq.fail, job_id="r", retry=Retry(max=2, interval=[0, 3600]))
    burst(queue, max_jobs=1)  # first failure: retried at once
    assert Job.fetch("r", connection=connection).get_status() == JobStatus.QUEUED
    assert_in_one_place(connection, "r", "default", "queue")
    burst(queue, max_jobs=1)  # second failure: retried after an hour
    assert Job.fetch("r", connection=connection).get_status() == JobStatus.SCHEDULED
    assert_in_one_place(connection, "r", "default", "scheduled")
    queue.enqueue(jq.fail, job_id="f")
    burst(queue)
    assert_in_one_place(connection, "f", "default", "failed")
    queue.failed_job_registry.requeue("f")
    assert_in_one_place(connection, "f", "default", "queue")
    burst(queue)
    assert_in_one_place(connection, "f", "default", "failed")
    Job.fetch("f", connection=connection).requeue()
    assert_in_one_place(connection, "f", "default", "queue")


def test_one_place_through_defer_release_and_cancel(queue, connection):
    parent = queue.enqueue(jq.noop, job_id="parent")
    queue.enqueue(jq.noop, job_id="child", depends_on=parent)
    queue.enqueue(jq.noop, job_id="doomed", depends_on=parent)
    for job_id in ("child", "doomed"):
        assert_in_one_place(connection, job_id, "default", "deferred")
    Job.fetch("doomed", connection=connection).cancel()
    assert_in_one_place(connection, "doomed", "default", "canceled")
    burst(queue, max_jobs=1)  # the parent finishes: its dependent is released
    assert_in_one_place(connection, "parent", "default", "finished")
    assert_in_one_place(connection, "child", "default", "queue")
    assert_in_one_place(connection, "doomed", "default", "canceled")  # not released
    queued = queue.enqueue(jq.noop, job_id="queued")
    queued.cancel()
    assert_in_one_place(connection, "queued", "default", "canceled")
    with pytest.raises(InvalidJobOperation):
        Job.fetch("parent", connection=connection).cancel()
    assert_in_one_place(connection, "parent", "default", "finished")


def test_one_place_through_schedule_and_release(queue, connection, redis_url):
    job = queue.enqueue_in(timedelta(seconds=0.3), jq.noop, job_id="s")
    assert_in_one_place(connection, "s", "default", "scheduled")
    with running_worker([queue], redis_url, maintenance_interval=0.1):
        wait_until(lambda: job.is_finished)
    assert_in_one_place(connection, "s", "default", "finished")


def test_one_place_when_a_finished_id_is_enqueued_again(queue, connection):
    queue.enqueue(jq.fail, job_id="x")
    burst(queue)
    assert_in_one_place(connection, "x", "default", "failed")
    queue.enqueue(jq.noop, job_id="x")
    assert_in_one_place(connection, "x", "default", "queue")


def test_deleted_job_is_nowhere(queue, connection):
    for job_id, where in (("q", "queue"), ("fl", "failed")):
        queue.enqueue(jq.fail, job_id=job_id)
        if where == "failed":
            burst(queue)
        assert_in_one_place(connection, job_id, "default", where)
        Job.fetch(job_id, connection=connection).delete()
        assert places(connection, job_id, "default") == []
        assert not Job.exists(job_id, connection=connection)


def test_started_registry_cleanup_takes_back_lapsed_leases(queue, connection):
    from django_jobqueue.engine import scripts

    queue.enqueue(jq.noop, job_id="lost")
    # a worker that dequeued the job with a tiny lease and then died
    assert scripts.get("dequeue")(connection, "dead-worker", 0.05, "default")
    assert_in_one_place(connection, "lost", "default", "started")
    wait_until(lambda: queue.started_job_registry.cleanup() == 1)  # once the lease lapsed
    assert_in_one_place(connection, "lost", "default", "queue")
    assert Job.fetch("lost", connection=connection).lost_count == 1
