"""Job: create/fetch/save/refresh/delete/cancel/requeue, attributes, statuses, meta, TTLs,
results, job ids and the kinds of callables a job may run."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from django_jobqueue import (
    InvalidJobId,
    InvalidJobOperation,
    Job,
    JobStatus,
    NoSuchJobError,
    Queue,
    Result,
    Retry,
    SerializationError,
    Worker,
)
from django_jobqueue.engine import keys
from tests.engine import jobs_job as jobs
from tests.harness import wait_until

ONE_YEAR = 365 * 24 * 3600
FLAGS = ("is_queued", "is_started", "is_finished", "is_failed", "is_canceled", "is_scheduled",
         "is_deferred")


def burst(queue: Queue, **kwargs) -> Worker:
    worker = Worker([queue], connection=queue.connection, **kwargs)
    worker.work(burst=True)
    return worker


def true_flags(job: Job) -> set[str]:
    return {name for name in FLAGS if getattr(job, name)}


def job_keys(connection, job_id: str) -> list[bytes]:
    return connection.keys(f"*{job_id}*")


def test_job_status_has_every_status():
    assert {s.value for s in JobStatus} >= {
        "queued", "started", "finished", "failed", "deferred", "scheduled", "canceled", "stopped",
    }
    assert JobStatus("stopped") is JobStatus.STOPPED
    assert JobStatus.QUEUED == "queued" and str(JobStatus.FAILED) == "failed"


# --- create / save / fetch / exists / refresh / delete --------------------------------------


def test_create_writes_nothing_until_save_then_fetch_reads_it_back(connection):
    job = Job.create(jobs.echo, args=(1, "two"), kwargs={"k": [3]}, connection=connection,
                     id="abc-123_X", meta={"m": 1}, description="an echo", timeout=30)
    assert job.id == "abc-123_X"
    assert connection.dbsize() == 0 and not Job.exists(job.id, connection=connection)
    job.save()
    assert Job.exists(job.id, connection=connection)
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched == job
    assert fetched.func_name == "tests.engine.jobs_job.echo"
    assert fetched.args == (1, "two") and fetched.kwargs == {"k": [3]}
    assert fetched.meta == {"m": 1}
    assert fetched.description == "an echo" and fetched.timeout == 30
    assert fetched.status is None  # saved, not enqueued
    assert isinstance(fetched.created_at, datetime)


def test_fetch_many_and_exists(connection, queue):
    a = queue.enqueue(jobs.add, 1, 2)
    b = queue.enqueue(jobs.add, 3, 4)
    found = Job.fetch_many([a.id, "missing", b.id], connection=connection)
    assert found[1] is None
    assert [found[0].id, found[2].id] == [a.id, b.id]
    assert found[2].args == (3, 4)
    assert Job.exists(a.id, connection=connection)
    assert not Job.exists("missing", connection=connection)


def test_fetch_of_missing_id_raises_no_such_job(connection):
    with pytest.raises(NoSuchJobError, match="nope"):
        Job.fetch("nope", connection=connection)
    with pytest.raises(KeyError):  # RQ compatibility: NoSuchJobError is a KeyError
        Job.fetch("nope", connection=connection)


def test_refresh_sees_what_a_worker_wrote(connection, queue):
    job = queue.enqueue(jobs.add, 2, 2)
    assert job.status == JobStatus.QUEUED
    burst(queue)
    assert job.status == JobStatus.QUEUED  # in-memory copy until refreshed
    job.refresh()
    assert job.status == JobStatus.FINISHED and job.ended_at is not None
    job.delete()
    with pytest.raises(NoSuchJobError):
        job.refresh()


def test_delete_removes_every_trace(connection, queue):
    done = queue.enqueue(jobs.add, 1, 1)
    queued = queue.enqueue(jobs.add, 2, 2)
    Worker([queue], connection=connection).work(burst=True, max_jobs=1)
    assert queue.job_ids == [queued.id] and done.id in queue.finished_job_registry
    assert done.results()
    done.delete()
    assert job_keys(connection, done.id) == []  # hash and results
    assert done.id not in queue.finished_job_registry
    queued.delete()
    assert queue.count == 0 and job_keys(connection, queued.id) == []


# --- attributes ---------------------------------------------------------------------------


def test_every_attribute_after_a_run(connection, queue):
    job = queue.enqueue(jobs.echo, 1, x=2, meta={"owner": "me"}, ttl=600)
    assert job.get_status() == JobStatus.QUEUED and job.origin == "default"
    assert isinstance(job.enqueued_at, datetime)
    worker = burst(queue)
    job = Job.fetch(job.id, connection=connection)
    assert job.id and job.get_id() == job.id
    assert job.status == JobStatus.FINISHED == job.get_status()
    assert job.func_name == "tests.engine.jobs_job.echo"
    assert job.args == (1,) and job.kwargs == {"x": 2}
    assert job.result == [[1], {"x": 2}]
    assert job.enqueued_at <= job.started_at <= job.ended_at
    assert job.exc_info is None
    assert job.origin == "default"
    assert job.meta == {"owner": "me"}
    assert job.ttl == 600
    assert job.worker_name == worker.name


def test_is_flags_follow_the_status(connection, queue, redis_url):
    queued = queue.enqueue(jobs.add, 1, 2)
    assert true_flags(queued) == {"is_queued"}
    scheduled = queue.enqueue_in(timedelta(hours=1), jobs.add, 1, 2)
    assert true_flags(scheduled) == {"is_scheduled"}
    deferred = queue.enqueue(jobs.add, 1, 2, depends_on=scheduled)
    assert true_flags(deferred) == {"is_deferred"}
    canceled = queue.enqueue(jobs.add, 1, 2)
    canceled.cancel()
    assert true_flags(canceled) == {"is_canceled"}
    failed = queue.enqueue(jobs.always_fail)
    Worker([queue], connection=connection).work(burst=True)
    assert true_flags(queued) == {"is_finished"}
    assert true_flags(failed) == {"is_failed"}

    running = queue.enqueue(jobs.wait_then_return, "v")
    worker = jobs.WorkerThread("default", redis_url)
    worker.start()
    wait_until(lambda: running.is_started)
    assert true_flags(running) == {"is_started"}
    jobs.set_event(connection, running.id)
    worker.finish()
    assert true_flags(running) == {"is_finished"}


# --- what a job may call --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "args", "func_name", "expected"),
    [
        (jobs.add, (2, 3), "tests.engine.jobs_job.add", 5),
        ("tests.engine.jobs_job.add", (2, 3), "tests.engine.jobs_job.add", 5),
        (len, ([1, 2, 3],), "builtins.len", 3),
        ("builtins.len", ([1, 2],), "builtins.len", 2),
        (jobs.Multiplier(7).multiply, (6,), "multiply", 42),
    ],
    ids=["function", "dotted-path", "builtin", "builtin-path", "bound-method"],
)
def test_job_callables_run_under_a_worker(connection, queue, func, args, func_name, expected):
    job = queue.enqueue(func, *args)
    assert job.func_name == func_name
    burst(queue)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED, job.exc_info
    assert job.result == expected


def test_bound_method_keeps_its_instance(connection):
    job = Job.create(jobs.Multiplier(3).multiply, args=(2,), connection=connection)
    job.save()
    fetched = Job.fetch(job.id, connection=connection)
    assert isinstance(fetched.instance, jobs.Multiplier) and fetched.instance.factor == 3
    assert fetched.func(5) == 15


def _nested():
    def inner():
        return 1

    return inner


@pytest.mark.parametrize("func", [lambda: 1, _nested()], ids=["lambda", "nested"])
def test_lambdas_and_nested_functions_are_refused_clearly(connection, queue, func):
    with pytest.raises(TypeError, match="module-level function"):
        Job.create(func, connection=connection)
    with pytest.raises(TypeError, match="cannot be imported by a worker"):
        queue.enqueue(func)
    assert connection.dbsize() == 0


# --- meta ---------------------------------------------------------------------------------


def test_save_meta_writes_meta_alone(connection, queue):
    job = queue.enqueue(jobs.add, 1, 2, meta={"a": 1})
    before = connection.hgetall(job.key)
    job.meta["b"] = 2
    job.save_meta()
    after = connection.hgetall(job.key)
    assert {k for k in after if after[k] != before.get(k)} == {b"meta"}
    assert after[b"status"] == b"queued"  # save_meta never touches the status
    assert Job.fetch(job.id, connection=connection).meta == {"a": 1, "b": 2}


def test_save_meta_does_not_resurrect_a_deleted_job(connection, queue):
    job = queue.enqueue(jobs.add, 1, 2)
    job.delete()
    job.meta["late"] = True
    job.save_meta()
    assert not Job.exists(job.id, connection=connection)


def test_meta_saved_during_the_run_survives_the_workers_writes(connection, queue, redis_url):
    job = queue.enqueue(jobs.meta_then_wait, "half way")
    worker = jobs.WorkerThread("default", redis_url)
    worker.start()
    seen = wait_until(lambda: Job.fetch(job.id, connection=connection).get_meta())
    assert seen == {"progress": "half way"}
    running = Job.fetch(job.id, connection=connection)
    assert running.get_status() == JobStatus.STARTED
    running.meta["from_outside"] = True  # another process's save_meta while the job runs
    running.save_meta()
    assert Job.fetch(job.id, connection=connection).get_status() == JobStatus.STARTED
    jobs.set_event(connection, job.id)
    worker.finish()
    done = Job.fetch(job.id, connection=connection)
    assert done.get_status() == JobStatus.FINISHED and done.result == "done"
    assert done.meta == {"progress": "half way", "from_outside": True}


# --- result_ttl / failure_ttl ---------------------------------------------------------------


@pytest.mark.parametrize(("result_ttl", "low", "high"),
                         [(None, 490, 500), (60, 50, 60), (-1, -1, -1), (0, -2, -2)])
def test_result_ttl(connection, queue, result_ttl, low, high):
    """Default 500 s; -1 keeps the job (no TTL); 0 deletes it (and its results) on success."""
    job = queue.enqueue(jobs.add, 1, 2, result_ttl=result_ttl)
    burst(queue)
    assert low <= connection.ttl(job.key) <= high  # -2: the key does not exist
    assert (job.id in queue.finished_job_registry) is (result_ttl != 0)
    if result_ttl == 0:
        assert job_keys(connection, job.id) == [] and not Job.exists(job.id, connection=connection)
    else:
        assert Job.fetch(job.id, connection=connection).result == 3
        assert low <= connection.ttl(keys.results(job.id)) <= high


@pytest.mark.parametrize(("failure_ttl", "low", "high"),
                         [(None, ONE_YEAR - 60, ONE_YEAR), (120, 60, 120)])
def test_failure_ttl(connection, queue, failure_ttl, low, high):
    job = queue.enqueue(jobs.always_fail, failure_ttl=failure_ttl)
    burst(queue)
    assert job.get_status() == JobStatus.FAILED
    assert low <= connection.ttl(job.key) <= high
    assert job.id in queue.failed_job_registry


# --- results ------------------------------------------------------------------------------


def test_results_after_success(connection, queue):
    job = queue.enqueue(jobs.add, 20, 22)
    worker = burst(queue)
    results = job.results()
    assert len(results) == 1
    result = results[0]
    assert result.type == Result.Type.SUCCESSFUL and result.return_value == 42
    assert result.worker_name == worker.name
    assert result.started_at <= result.ended_at
    latest = job.latest_result()
    assert (latest.type, latest.return_value) == (result.type, 42)


def test_results_after_a_failure_and_a_retry_are_newest_first(connection, queue):
    job = queue.enqueue(jobs.fail_once, "first attempt fails", retry=Retry(max=1))
    worker = burst(queue)
    assert job.get_status() == JobStatus.FINISHED
    newest, oldest = job.results()
    assert newest.type == Result.Type.SUCCESSFUL
    assert newest.return_value == "ok on attempt 2"
    assert oldest.type == Result.Type.FAILED and oldest.return_value is None
    assert "Traceback" in oldest.exc_string
    assert "RuntimeError: first attempt fails" in oldest.exc_string
    assert newest.worker_name == oldest.worker_name == worker.name
    assert oldest.started_at <= oldest.ended_at <= newest.started_at <= newest.ended_at
    assert job.latest_result().type == Result.Type.SUCCESSFUL
    assert job.result == "ok on attempt 2"


def test_result_of_a_failed_job_is_none_and_latest_result_has_the_traceback(connection, queue):
    job = queue.enqueue(jobs.always_fail, "bad input")
    burst(queue)
    assert job.result is None
    latest = job.latest_result()
    assert latest.type == Result.Type.FAILED and "ValueError: bad input" in latest.exc_string


# --- job ids ------------------------------------------------------------------------------

BAD_IDS = ["", "a" * 129, "has space", "slash/id", "colon:id", "star*", "é", "new\nline"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_invalid_job_ids_are_refused_at_create_and_enqueue(connection, queue, bad):
    with pytest.raises(InvalidJobId):
        Job.create(jobs.add, args=(1, 2), id=bad, connection=connection)
    with pytest.raises(InvalidJobId, match="A-Za-z0-9_-"):
        queue.enqueue(jobs.add, 1, 2, job_id=bad)
    assert connection.dbsize() == 0


def test_valid_job_ids_are_accepted(connection, queue):
    for good in ["a" * 128, "A-b_9", "7"]:
        assert queue.enqueue(jobs.add, 1, 2, job_id=good).id == good
    assert queue.count == 3


# --- requeue --------------------------------------------------------------------------------


def test_requeue_puts_a_failed_job_back_on_its_origin_queue(connection):
    other = Queue("other", connection=connection)
    job = other.enqueue(jobs.fail_once, meta={"keep": "me"})
    Worker([other], connection=connection).work(burst=True, max_jobs=1)
    assert job.get_status() == JobStatus.FAILED
    assert "RuntimeError" in Job.fetch(job.id, connection=connection).exc_info
    fetched = Job.fetch(job.id, connection=connection)
    fetched.requeue()
    assert fetched.exc_info is None
    again = Job.fetch(job.id, connection=connection)
    assert again.get_status() == JobStatus.QUEUED and again.exc_info is None
    assert again.meta == {"keep": "me"}
    assert other.job_ids == [job.id]
    assert job.id not in other.failed_job_registry
    Worker([other], connection=connection).work(burst=True)
    assert job.get_status() == JobStatus.FINISHED


@pytest.mark.parametrize("state", ["queued", "finished"])
def test_requeue_of_a_job_that_is_not_failed_is_refused_clearly(connection, queue, state):
    job = queue.enqueue(jobs.add, 1, 2)
    if state == "finished":
        burst(queue)
    with pytest.raises(InvalidJobOperation) as info:
        job.requeue()
    message = str(info.value)
    assert job.id in message and "cannot be requeued" in message
    assert state in message and "failed" in message
    assert job.get_status() == state


def test_requeue_of_a_missing_job_raises_no_such_job(connection, queue):
    job = queue.enqueue(jobs.add, 1, 2)
    job.delete()
    with pytest.raises(NoSuchJobError):
        job.requeue()


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_from_queued_scheduled_and_deferred(connection, queue):
    queued = queue.enqueue(jobs.set_marker, "canceled-ran")
    scheduled = queue.enqueue_in(timedelta(hours=1), jobs.add, 1, 2)
    deferred = queue.enqueue(jobs.add, 1, 2, depends_on=scheduled)
    other = queue.enqueue(jobs.add, 2, 3, depends_on=queued)
    for job in (other, queued, scheduled):  # a deferred, a queued and a scheduled job
        job.cancel()
        assert job.get_status() == JobStatus.CANCELED
        assert job.id in queue.canceled_job_registry
    # canceling its dependency canceled the deferred one too, saying why
    assert deferred.get_status() == JobStatus.CANCELED
    assert deferred.id in queue.canceled_job_registry
    deferred.refresh()
    assert deferred.canceled_reason == f"dependency {scheduled.id} was canceled"
    assert queue.count == 0
    assert queue.scheduled_job_registry.count == 0 and queue.deferred_job_registry.count == 0
    Worker([queue], connection=connection).work(burst=True)
    assert not connection.exists("canceled-ran")


def test_cancel_is_refused_once_the_job_started_or_ended(connection, queue, redis_url):
    finished = queue.enqueue(jobs.add, 1, 2)
    failed = queue.enqueue(jobs.always_fail)
    burst(queue)
    for job, status in ((finished, "finished"), (failed, "failed")):
        with pytest.raises(InvalidJobOperation, match=f"cannot be canceled: it is {status}"):
            job.cancel()
        assert job.get_status() == status

    running = queue.enqueue(jobs.wait_then_return, 1)
    worker = jobs.WorkerThread("default", redis_url)
    worker.start()
    wait_until(lambda: running.is_started)
    with pytest.raises(InvalidJobOperation, match="started"):
        running.cancel()
    jobs.set_event(connection, running.id)
    worker.finish()
    assert running.get_status() == JobStatus.FINISHED

    gone = queue.enqueue(jobs.add, 1, 2)
    gone.delete()
    with pytest.raises(NoSuchJobError):
        gone.cancel()


def test_a_frozen_job_sends_what_it_was_when_frozen(connection):
    """freeze() serializes at once (the Django layer's at-commit enqueue): later changes to
    the argument objects do not reach the job, and the enqueue does not serialize again."""
    payload = {"n": 1}
    queue = Queue("frozen", connection=connection)
    job = Job.create("builtins.print", args=(payload,), connection=connection)
    job.freeze()
    payload["n"] = 2
    queue.enqueue_job(job)
    assert Job.fetch(job.id, connection=connection).args == ({"n": 1},)
    job.meta["after"] = True  # once sent, the job serializes anew
    job.save()
    assert Job.fetch(job.id, connection=connection).meta == {"after": True}


def test_freeze_raises_for_an_argument_that_cannot_be_serialized(connection):
    import threading

    job = Job.create("builtins.print", args=(threading.Lock(),), connection=connection)
    with pytest.raises(SerializationError, match="argument 0"):
        job.freeze()
