"""Groups (issue 11): RQ's Group API, counts kept by the steps that end each job, and
callbacks (on_complete / on_success / on_failure) enqueued exactly once by the step that
ends the group's last job."""

from __future__ import annotations

import pytest

from django_jobqueue import (
    Callback,
    Group,
    GroupCompleted,
    Job,
    JobStatus,
    NoSuchGroupError,
    Queue,
    Retry,
    get_failed_queue,
)
from django_jobqueue.engine import keys
from django_jobqueue.group import Group as RQPathGroup
from tests.engine import jobs_flow as jf
from tests.engine import jobs_worker as jobs
from tests.engine.jobs_queue import assert_in_one_place

pytestmark = pytest.mark.timeout(60)


def burst(queue):
    jobs.make_worker([queue], queue.connection).work(burst=True)


def data(tag="", **options):
    return Queue.prepare_data(jf.counted, args=(tag,), **options)


def test_group_is_importable_where_rq_has_it_and_follows_its_api(connection, queue):
    assert RQPathGroup is Group
    group = Group.create(connection=connection)
    assert isinstance(group, Group) and len(group.name) == 32
    created = group.enqueue_many(queue, [data("a", job_id="job1"), data("b", job_id="job2")])
    assert [j.id for j in created] == ["job1", "job2"]
    assert [j.id for j in group.get_jobs()] == ["job1", "job2"]
    assert Job.fetch("job1", connection=connection).group_id == group.name
    assert Group.fetch(group.name, connection=connection) == group
    assert group in Group.all(connection=connection)
    with pytest.raises(NoSuchGroupError, match="No such group: nope"):
        Group.fetch("nope", connection=connection)
    group.delete_job("job1")
    assert group.job_ids == ["job2"]
    group.delete()
    assert not Job.exists("job2", connection=connection)
    assert group not in Group.all(connection=connection)


def test_progress_and_status_follow_every_way_of_ending(connection, queue):
    group = Group.create(connection=connection, name="mixed")
    ok, bad, later = group.enqueue_many(queue, [
        Queue.prepare_data(jf.counted, args=("ok",)),
        Queue.prepare_data(jf.fails),
        Queue.prepare_data(jf.counted, args=("later",)),
    ])
    progress = group.progress()
    assert (progress.total, progress.pending, progress.ended) == (3, 3, 0)
    assert group.get_status() == {"queued": 3}
    later.cancel()
    burst(queue)
    progress = group.progress()
    assert (progress.pending, progress.finished, progress.failed, progress.canceled) == (
        0, 1, 1, 1)
    assert progress.completed_at is not None and group.is_completed
    assert group.get_status() == {"finished": 1, "failed": 1, "canceled": 1}
    for job, place in ((ok, "finished"), (bad, "failed"), (later, "canceled")):
        assert_in_one_place(connection, job.id, queue.name, place)


def test_on_complete_and_on_success_run_once_with_the_group(connection, queue):
    group = Group.create(connection=connection, name="all-good", on_complete=jf.on_group_done,
                         on_success=Callback(jf.on_group_done, timeout=30),
                         on_failure=jf.on_group_done)
    created = group.enqueue_many(queue, [data(str(n)) for n in range(5)])
    ids = group.callback_job_ids()
    assert set(ids) == {"on_complete", "on_success", "on_failure"}
    assert not any(Job.exists(i, connection=connection) for i in ids.values())
    burst(queue)
    assert sorted(jf.callbacks(connection)) == ["on_complete all-good 5",
                                                "on_success all-good 5"]
    ran = group.callback_jobs()
    assert set(ran) == {"on_complete", "on_success"}
    assert ran["on_success"].timeout == 30
    assert ran["on_complete"].get_status() == JobStatus.FINISHED
    assert ran["on_complete"].return_value() == 5
    assert all(jf.runs(connection, j.id) == 1 for j in created)
    # nothing more joins a completed group; nothing of the batch is stored
    with pytest.raises(GroupCompleted, match="all-good has completed"):
        group.enqueue_many(queue, [data("late", job_id="late")])
    assert not Job.exists("late", connection=connection)
    burst(queue)
    assert len(jf.callbacks(connection)) == 2


def test_a_failure_runs_on_failure_instead_of_on_success(connection, queue):
    group = Group.create(connection=connection, name="one-bad", on_complete=jf.on_group_done,
                         on_success=jf.on_group_done, on_failure=jf.on_group_done)
    group.enqueue_many(queue, [data("a"), Queue.prepare_data(jf.fails)])
    burst(queue)
    assert sorted(jf.callbacks(connection)) == ["on_complete one-bad 2",
                                                "on_failure one-bad 2"]


def test_a_retried_job_does_not_end_the_group_until_its_last_attempt(connection, queue):
    group = Group.create(connection=connection, name="retried", on_complete=jf.on_group_done)
    group.enqueue_many(queue, [Queue.prepare_data(jf.fails, retry=Retry(max=2))])
    worker = jobs.make_worker([queue], connection)
    worker.work(burst=True, max_jobs=1)
    assert group.progress().pending == 1 and jf.callbacks(connection) == []
    burst(queue)
    assert group.progress().failed == 1
    assert jf.callbacks(connection) == ["on_complete retried 1"]


def test_requeue_before_completion_makes_a_job_pending_again(connection, queue):
    group = Group.create(connection=connection, name="requeued", on_complete=jf.on_group_done)
    bad, slow = group.enqueue_many(queue, [Queue.prepare_data(jf.fails),
                                           data("slow")])
    jobs.make_worker([queue], connection).work(burst=True, max_jobs=1)
    assert group.progress().failed == 1
    get_failed_queue(connection).requeue(bad.id)
    progress = group.progress()
    assert (progress.failed, progress.pending) == (0, 2)
    burst(queue)
    assert group.progress().failed == 1
    assert jf.callbacks(connection) == ["on_complete requeued 2"]


def test_canceled_dependents_and_deleted_jobs_count_as_ended(connection, queue):
    group = Group.create(connection=connection, name="cascade", on_complete=jf.on_group_done)
    parent, child, doomed = group.enqueue_many(queue, [
        Queue.prepare_data(jf.fails, job_id="parent"),
        data("child", job_id="child", depends_on="parent"),
        data("doomed", job_id="doomed"),
    ])
    Job.fetch("doomed", connection=connection).delete()
    burst(queue)
    progress = group.progress()
    assert (progress.failed, progress.canceled, progress.deleted) == (1, 1, 1)
    assert jf.callbacks(connection) == ["on_complete cascade 2"]  # doomed is gone
    assert child.get_status() == JobStatus.CANCELED


def test_group_cancel_ends_what_has_not_started(connection, queue):
    group = Group.create(connection=connection, name="stopped", on_complete=jf.on_group_done)
    group.enqueue_many(queue, [data(str(n)) for n in range(4)])
    assert group.cancel() == 4
    assert group.progress().canceled == 4
    burst(queue)  # only the callback is left to run
    assert jf.callbacks(connection) == ["on_complete stopped 4"]


def test_bad_input_is_refused_before_anything_is_stored(connection, queue):
    with pytest.raises(ValueError, match="Invalid group name"):
        Group.create(connection=connection, name="no spaces")
    with pytest.raises(ValueError, match="ttl"):
        Group.create(connection=connection, ttl=0)
    with pytest.raises(TypeError, match="dotted path"):
        Group.create(connection=connection, on_complete="nodots")
    group = Group.create(connection=connection, name="g", on_complete=jf.on_group_done)
    with pytest.raises(ValueError, match="callbacks are set already"):
        Group.create(connection=connection, name="g", on_complete=jf.on_group_done)
    assert Group.create(connection=connection, name="g") == group
    with pytest.raises(ValueError, match="cannot have a ttl"):
        group.enqueue_many(queue, [data("x", job_id="x", ttl=60)])
    ghost = Group(connection, "ghost")
    with pytest.raises(NoSuchGroupError, match="create the group"):
        ghost.enqueue_many(queue, [data("y", job_id="y")])
    assert not Job.exists("x", connection=connection)
    assert not Job.exists("y", connection=connection)
    assert connection.zcard(keys.queue(queue.name)) == 0


def test_a_completed_group_expires_after_its_ttl(connection, queue):
    group = Group.create(connection=connection, name="short", ttl=100)
    group.enqueue_many(queue, [data("a")])
    assert connection.ttl(group.key) == -1  # kept while it runs
    burst(queue)
    assert 0 < connection.ttl(group.key) <= 100
    assert 0 < connection.ttl(keys.group_jobs("short")) <= 100


def test_a_corrupt_group_hash_does_not_fail_the_jobs_step(connection, queue):
    group = Group.create(connection=connection, name="broken")
    job, = group.enqueue_many(queue, [data("a")])
    connection.delete(group.key)
    connection.set(group.key, "not a hash")
    burst(queue)
    assert job.get_status() == JobStatus.FINISHED
    assert_in_one_place(connection, job.id, queue.name, "finished")


def test_a_requeue_after_completion_never_runs_the_callbacks_again(connection, queue):
    group = Group.create(connection=connection, name="done", on_complete=jf.on_group_done,
                         on_failure=jf.on_group_done)
    bad, = group.enqueue_many(queue, [Queue.prepare_data(jf.fails)])
    burst(queue)
    assert sorted(jf.callbacks(connection)) == ["on_complete done 1", "on_failure done 1"]
    get_failed_queue(connection).requeue(bad.id)
    assert group.progress().pending == 1  # the counts follow
    burst(queue)
    assert group.progress().failed == 1
    assert len(jf.callbacks(connection)) == 2


def test_a_job_whose_workers_died_counts_as_failed_and_completes_its_group(connection, queue):
    from django_jobqueue.engine import steps

    group = Group.create(connection=connection, name="lost", on_complete=jf.on_group_done)
    job, = group.enqueue_many(queue, [data("a")])
    connection.hset(keys.worker("dead"), mapping={"name": "dead", "current_job": ""})
    assert steps.take(connection, steps.Take("dead", 30, [queue.name])).job_id == job.id
    found = steps.take_back_lost(connection, queue.name, ["dead"], 1, "was SIGKILLed")
    assert found.failed == 1
    assert group.progress().failed == 1 and group.is_completed
    burst(queue)
    assert jf.callbacks(connection) == ["on_complete lost 1"]
