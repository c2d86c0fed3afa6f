"""Queue: enqueue paths and their options, listings, priorities, inline mode, validation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_jobqueue import (
    Callback,
    InvalidJobId,
    Job,
    JobStatus,
    Queue,
    Retry,
    Worker,
    get_current_job,
)
from django_jobqueue.engine.exceptions import InvalidQueueName
from tests.engine import jobs_queue as jq
from tests.engine.jobs_queue import assert_in_one_place, running_worker
from tests.harness import wait_until


def burst(*queues):
    return Worker(list(queues), connection=queues[0].connection).work(burst=True)


# --- construction ------------------------------------------------------------------------


def test_constructor_defaults(connection):
    q = Queue(connection=connection)
    assert q.name == "default"
    assert q.is_async is True
    assert q.default_timeout == Queue.DEFAULT_TIMEOUT
    q2 = Queue("other", connection=connection, default_timeout=30, is_async=False,
               serializer="json")
    assert (q2.name, q2.default_timeout, q2.is_async) == ("other", 30, False)
    assert q2.enqueue(jq.add, 1, 2).result == 3  # the json serializer round-trips


def test_default_timeout_applies_to_jobs(connection):
    q = Queue("t", connection=connection, default_timeout="2m")
    assert Job.fetch(q.enqueue(jq.noop).id, connection=connection).timeout == 120


def test_default_timeout_applies_to_a_job_made_with_job_create(connection):
    """enqueue_job goes through the queue's defaults too (it used to skip them)."""
    q = Queue("t", connection=connection, default_timeout=1)
    job = q.enqueue_job(Job.create("time.sleep", args=(3,), connection=connection))
    assert Job.fetch(job.id, connection=connection).timeout == 1
    Worker([q], connection=connection).work(burst=True)
    job.refresh()
    assert job.get_status() == "failed"
    assert "JobTimeoutException" in job.exc_info and "timeout of 1 s" in job.exc_info
    own = q.enqueue_job(Job.create("time.sleep", args=(0,), timeout=7, connection=connection))
    assert Job.fetch(own.id, connection=connection).timeout == 7  # the job's own wins


@pytest.mark.parametrize("name", ["", "a b", "x" * 129, "é", "a/b", None, 5])
def test_invalid_queue_names_are_refused(connection, name):
    with pytest.raises(InvalidQueueName):
        Queue(name, connection=connection)


# --- enqueue options ---------------------------------------------------------------------


def test_every_reserved_keyword_is_stored_on_the_job(queue, connection):
    parent = queue.enqueue(jq.noop)
    job = queue.enqueue(
        jq.add, 1, 2, job_timeout=33, result_ttl=44, ttl=555, failure_ttl=66,
        job_id="my-job_1", description="adding", at_front=True, priority=7,
        meta={"k": "v"}, retry=Retry(max=2, interval=[1, 5]), depends_on=parent,
        on_success=jq.on_success_cb, on_failure=Callback(jq.on_failure_cb),
    )
    assert job.id == "my-job_1"
    assert job.get_status() == JobStatus.DEFERRED  # depends_on a job not finished yet
    stored = Job.fetch("my-job_1", connection=connection)
    assert (stored.timeout, stored.result_ttl, stored.ttl, stored.failure_ttl) == (33, 44, 555, 66)
    assert stored.description == "adding"
    assert stored.priority == 7
    assert stored.meta == {"k": "v"}
    assert (stored.retries_left, stored.retry_max, stored.retry_intervals) == (2, 2, [1, 5])
    assert stored.dependency_ids == [parent.id]
    assert stored.success_callback is jq.on_success_cb
    assert stored.failure_callback is jq.on_failure_cb
    assert (stored.args, stored.kwargs) == ((1, 2), {})
    assert 0 < connection.ttl(stored.key) <= 555
    # at_front: released dependents go to the back, so check at_front on a plain enqueue
    front = queue.enqueue(jq.noop, at_front=True)
    assert queue.get_position(front) == 0


def test_timeout_alias_and_duration_strings(queue, connection):
    job = queue.enqueue(jq.noop, timeout="15m", result_ttl=timedelta(minutes=2))
    stored = Job.fetch(job.id, connection=connection)
    assert (stored.timeout, stored.result_ttl) == (900, 120)


def test_function_arguments_named_like_reserved_keywords_pass_through(queue, connection):
    own = {"job_timeout": 1, "description": "mine", "priority": 9, "meta": "x", "ttl": 2}
    job = queue.enqueue(jq.echo, args=("a",), kwargs=own, description="job desc")
    stored = Job.fetch(job.id, connection=connection)
    assert stored.args == ("a",)
    assert stored.kwargs == own
    assert stored.description == "job desc"
    assert stored.priority == 0 and stored.ttl is None and stored.meta == {}
    assert stored.timeout == Queue.DEFAULT_TIMEOUT
    burst(queue)
    assert Job.fetch(job.id, connection=connection).result == (["a"], dict(sorted(own.items())))


def test_positional_args_and_args_keyword_together_are_refused(queue, connection):
    with pytest.raises(TypeError):
        queue.enqueue(jq.echo, 1, args=(2,))
    assert connection.dbsize() == 0


def test_enqueue_call(queue, connection):
    job = queue.enqueue_call(jq.add, args=(2, 3), kwargs={}, timeout=12, result_ttl=7,
                             description="d", job_id="call-1", priority=3, meta={"a": 1})
    stored = Job.fetch("call-1", connection=connection)
    assert job.get_status() == JobStatus.QUEUED
    assert (stored.timeout, stored.result_ttl, stored.description, stored.priority) == (
        12, 7, "d", 3)
    assert stored.meta == {"a": 1}
    assert queue.job_ids == ["call-1"]
    burst(queue)
    assert Job.fetch("call-1", connection=connection).result == 5


def test_prepare_data_and_enqueue_many(queue, connection):
    datas = [Queue.prepare_data(jq.add, (i, i), job_id=f"m{i}", priority=i % 3,
                                meta={"i": i}, description=f"job {i}") for i in range(6)]
    jobs = queue.enqueue_many(datas)
    assert [j.id for j in jobs] == [f"m{i}" for i in range(6)]
    assert all(j.get_status() == JobStatus.QUEUED for j in jobs)
    assert queue.count == 6
    # priority 2 first, then 1, then 0, FIFO inside each
    assert queue.job_ids == ["m2", "m5", "m1", "m4", "m0", "m3"]
    assert Job.fetch("m4", connection=connection).meta == {"i": 4}
    burst(queue)
    assert [Job.fetch(f"m{i}", connection=connection).result for i in range(6)] == [
        0, 2, 4, 6, 8, 10]


def test_enqueue_many_writes_nothing_when_one_job_is_bad(queue, connection):
    datas = [Queue.prepare_data(jq.noop), Queue.prepare_data(jq.noop, priority=500)]
    with pytest.raises(ValueError):
        queue.enqueue_many(datas)
    datas = [Queue.prepare_data(jq.noop), Queue.prepare_data(jq.echo, (lambda: 1,))]
    with pytest.raises(ValueError):  # SerializationError is a ValueError
        queue.enqueue_many(datas)
    assert connection.dbsize() == 0


# --- reading and removing ----------------------------------------------------------------


def test_listing_and_positions(queue, connection):
    jobs = [queue.enqueue(jq.add, i, 1, job_id=f"j{i}") for i in range(5)]
    assert queue.count == len(queue) == 5
    assert queue.job_ids == [j.id for j in jobs]
    assert [j.id for j in queue.jobs] == [j.id for j in jobs]
    assert queue.get_job_ids(1, 2) == ["j1", "j2"]
    assert queue.get_job_ids(3) == ["j3", "j4"]
    assert [j.id for j in queue.get_jobs(4, 10)] == ["j4"]
    assert queue.get_position("j3") == 3
    assert queue.get_position(jobs[0]) == 0
    assert queue.get_position("nope") is None
    fetched = queue.fetch_job("j2")
    assert fetched.args == (2, 1) and fetched.origin == "default"
    assert queue.fetch_job("missing") is None
    assert Queue("other", connection=connection).fetch_job("j2") is None


def test_remove_deletes_the_job(queue, connection):
    a, b = queue.enqueue(jq.noop), queue.enqueue(jq.noop)
    queue.remove(a)
    queue.remove(b.id)
    assert queue.count == 0
    assert not Job.exists(a.id, connection=connection)
    assert not Job.exists(b.id, connection=connection)


def test_empty_and_delete(queue, connection):
    queue.enqueue_many([Queue.prepare_data(jq.noop) for _ in range(2100)])
    assert queue.empty() == 2100
    assert queue.count == 0
    assert connection.keys("jq:job:*") == []
    queue.enqueue(jq.noop)
    assert [q.name for q in Queue.all(connection=connection)] == ["default"]
    queue.delete()
    assert queue.count == 0
    assert Queue.all(connection=connection) == []
    assert connection.keys("jq:job:*") == []


def test_queue_all_lists_every_used_queue(connection):
    for name in ("b", "a", "c.x"):
        Queue(name, connection=connection).enqueue(jq.noop)
    assert [q.name for q in Queue.all(connection=connection)] == ["a", "b", "c.x"]
    assert all(q.connection is connection for q in Queue.all(connection=connection))


# --- priority ----------------------------------------------------------------------------


def test_priority_order_and_fifo_within_a_priority(queue):
    spec = [("a", 0), ("b", 5), ("c", -3), ("d", 100), ("e", 5), ("f", -100), ("g", 0)]
    for job_id, priority in spec:
        queue.enqueue(jq.noop, job_id=job_id, priority=priority)
    assert queue.job_ids == ["d", "b", "e", "a", "g", "c", "f"]


def test_at_front_goes_before_everything(queue, connection):
    queue.enqueue(jq.record, "p100", priority=100)
    queue.enqueue(jq.record, "p0")
    front = queue.enqueue(jq.record, "front", at_front=True, priority=-100)
    assert queue.get_position(front) == 0
    burst(queue)
    assert connection.lrange(jq.ORDER_KEY, 0, -1) == [b"front", b"p100", b"p0"]


@pytest.mark.parametrize("priority", [101, -101, 1.5, "1", True, None])
def test_bad_priorities_are_refused(queue, connection, priority):
    with pytest.raises(ValueError):
        queue.enqueue(jq.noop, priority=priority)
    assert connection.dbsize() == 0


def test_strict_priority_across_queues(connection):
    high, low = Queue("high", connection=connection), Queue("low", connection=connection)
    for i in range(3):
        low.enqueue(jq.record, f"low{i}", priority=100)
    for i in range(3):
        high.enqueue(jq.record, f"high{i}", priority=-100)
    Worker([high, low], connection=connection).work(burst=True)
    order = [t.decode() for t in connection.lrange(jq.ORDER_KEY, 0, -1)]
    assert order == ["high0", "high1", "high2", "low0", "low1", "low2"]


# --- inline (is_async=False) -------------------------------------------------------------


def test_inline_queue_runs_the_job_at_enqueue(connection):
    q = Queue("inline", connection=connection, is_async=False)
    job = q.enqueue(jq.whoami, meta={"before": 1})
    assert job.get_status() == JobStatus.FINISHED
    assert job.result == {"id": job.id, "origin": "inline", "status": "started"}
    assert job.get_meta() == {"before": 1, "seen": True}
    assert q.count == 0
    assert job.id in q.finished_job_registry
    assert_in_one_place(connection, job.id, "inline", "finished")
    assert get_current_job() is None  # the context is reset after the job


def test_inline_queue_records_failures(connection):
    q = Queue("inline", connection=connection, is_async=False)
    job = q.enqueue(jq.fail, "inline boom", on_failure=jq.on_failure_cb)
    assert job.get_status() == JobStatus.FAILED
    assert "inline boom" in Job.fetch(job.id, connection=connection).exc_info
    assert_in_one_place(connection, job.id, "inline", "failed")
    assert connection.lrange("test:callbacks", 0, -1) == [f"failure:{job.id}".encode()]


# --- duplicates and ids ------------------------------------------------------------------


def test_duplicate_queued_job_id_is_not_enqueued_twice(queue, connection):
    first = queue.enqueue(jq.add, 1, 1, job_id="dup")
    again = queue.enqueue(jq.add, 9, 9, job_id="dup")
    assert again.id == first.id
    assert again.args == (1, 1)  # the existing job, not the new call
    assert queue.count == 1


def test_duplicate_scheduled_job_id_is_not_enqueued_twice(queue):
    queue.enqueue_in(timedelta(hours=1), jq.noop, job_id="sched")
    again = queue.enqueue(jq.noop, job_id="sched")
    assert again.get_status() == JobStatus.SCHEDULED
    assert queue.count == 0
    assert queue.scheduled_job_registry.count == 1


def test_duplicate_started_job_id_is_not_enqueued_twice(queue, connection, redis_url):
    queue.enqueue(jq.gate, "test:gate", job_id="running")
    with running_worker([queue], redis_url):
        wait_until(lambda: Job.fetch("running", connection=connection).is_started)
        again = queue.enqueue(jq.noop, job_id="running")
        assert again.get_status() == JobStatus.STARTED
        assert queue.count == 0
        assert_in_one_place(connection, "running", "default", "started")
        connection.rpush("test:gate", "go")
        wait_until(lambda: Job.fetch("running", connection=connection).is_finished)


def test_duplicate_deferred_job_id_and_duplicates_within_one_batch(queue):
    parent = queue.enqueue(jq.noop, job_id="parent")
    queue.enqueue(jq.add, 1, 1, job_id="child", depends_on=parent)
    again = queue.enqueue(jq.add, 5, 5, job_id="child")
    assert again.get_status() == JobStatus.DEFERRED and again.args == (1, 1)
    assert queue.deferred_job_registry.count == 1
    jobs = queue.enqueue_many([Queue.prepare_data(jq.add, (1, 2), job_id="twin"),
                               Queue.prepare_data(jq.add, (3, 4), job_id="twin")])
    assert [j.args for j in jobs] == [(1, 2), (1, 2)]
    assert queue.job_ids == ["parent", "twin"]


def test_finished_job_id_can_be_reused(queue, connection):
    queue.enqueue(jq.add, 1, 1, job_id="again")
    burst(queue)
    assert Job.fetch("again", connection=connection).is_finished
    job = queue.enqueue(jq.add, 2, 2, job_id="again")
    assert job.get_status() == JobStatus.QUEUED
    assert queue.count == 1
    assert_in_one_place(connection, "again", "default", "queue")
    burst(queue)
    assert Job.fetch("again", connection=connection).result == 4


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "x" * 129, "é", 5])
def test_bad_job_ids_are_refused(queue, connection, bad):
    with pytest.raises(InvalidJobId):
        queue.enqueue(jq.noop, job_id=bad)
    assert connection.dbsize() == 0


# --- argument validation -----------------------------------------------------------------


def test_functions_from_main_are_refused_when_async(queue, connection):
    def local():
        return 1

    local.__module__ = "__main__"
    local.__qualname__ = "local"
    with pytest.raises(ValueError, match="__main__"):
        queue.enqueue(local)
    assert connection.dbsize() == 0


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"args": 5}, TypeError),
        ({"args": "abc"}, TypeError),
        ({"args": (1,), "kwargs": [1]}, TypeError),
        ({"job_timeout": "abc"}, ValueError),
        ({"result_ttl": "soon"}, ValueError),
        ({"failure_ttl": [1]}, ValueError),
        ({"ttl": "abc"}, ValueError),
        ({"ttl": 0}, ValueError),
        ({"meta": "not a dict"}, TypeError),
        ({"retry": 3}, TypeError),
        ({"depends_on": "bad id!"}, InvalidJobId),
        ({"on_success": lambda *a: None}, TypeError),
    ],
)
def test_bad_arguments_raise_clearly_and_write_nothing(queue, connection, options, error):
    with pytest.raises(error) as info:
        queue.enqueue(jq.echo, **options)
    assert str(info.value)  # a message, not a bare exception
    assert connection.dbsize() == 0


@pytest.mark.parametrize("options", [{"args": {}}, {"args": ""}, {"args": 0},
                                     {"kwargs": []}, {"kwargs": ""}, {"args": (), "kwargs": 0}])
def test_empty_args_of_the_wrong_type_are_refused(queue, connection, options):
    with pytest.raises(TypeError):
        queue.enqueue(jq.echo, **options)
    assert connection.dbsize() == 0


def test_unserializable_argument_names_the_argument(queue, connection):
    with pytest.raises(ValueError, match="keyword argument 'cb'"):
        queue.enqueue(jq.echo, cb=lambda: 1)
    assert connection.dbsize() == 0


# --- scheduling --------------------------------------------------------------------------


def test_enqueue_in_schedules_and_a_worker_runs_it_when_due(queue, connection, redis_url):
    job = queue.enqueue_in(timedelta(seconds=0.5), jq.add, 20, 22)
    assert job.get_status() == JobStatus.SCHEDULED
    assert queue.count == 0
    assert job.id in queue.scheduled_job_registry
    assert_in_one_place(connection, job.id, "default", "scheduled")
    with running_worker([queue], redis_url, maintenance_interval=0.1):
        wait_until(lambda: Job.fetch(job.id, connection=connection).is_finished, timeout=10)
    assert job.result == 42
    assert_in_one_place(connection, job.id, "default", "finished")


def test_enqueue_at_schedules_and_a_worker_runs_it_when_due(queue, connection, redis_url):
    from django_jobqueue.engine.utils import utcnow

    due = utcnow() + timedelta(seconds=0.5)
    job = queue.enqueue_at(due, jq.add, 1, 2, job_id="at-job", description="at")
    assert job.get_status() == JobStatus.SCHEDULED
    registry = queue.scheduled_job_registry
    assert registry.get_scheduled_time(job) == pytest.approx(due.timestamp(), abs=0.01)
    with running_worker([queue], redis_url, maintenance_interval=0.1):
        wait_until(lambda: Job.fetch("at-job", connection=connection).is_finished, timeout=10)
    assert job.result == 3
    assert registry.count == 0


def test_enqueue_at_in_the_past_queues_at_once(queue):
    from django_jobqueue.engine.utils import utcnow

    job = queue.enqueue_at(utcnow() - timedelta(seconds=5), jq.noop)
    assert job.get_status() == JobStatus.QUEUED
    assert queue.job_ids == [job.id]
