"""An enqueue that does not complete says which jobs are stored, so a producer can retry
without making duplicates (README: "Retrying an enqueue safely")."""

from __future__ import annotations

import pytest
import redis

from django_jobqueue import Job, Queue
from django_jobqueue.engine import scripts
from django_jobqueue.engine.exceptions import (
    EnqueueInterrupted,
    EnqueueRefused,
    MissingDependency,
    NoSuchJobError,
)
from tests.engine.reply_cutter import ReplyCutter
from tests.harness import free_port, wait_until


@pytest.fixture
def cutter(redis_server, connection):
    scripts.load(connection, ["enqueue"])  # the reply cut is the script's, not a NOSCRIPT
    proxy = ReplyCutter(redis_server.host, redis_server.port)
    yield proxy
    proxy.close()


def _through(cutter: ReplyCutter) -> redis.Redis:
    return redis.Redis.from_url(cutter.url, socket_timeout=5)


def test_a_lost_reply_names_the_job_that_may_be_stored(cutter, connection):
    queue = Queue("e", connection=_through(cutter))
    cutter.cut_after(0)
    with pytest.raises(EnqueueInterrupted) as caught:
        queue.enqueue("builtins.print", 1)
    error = caught.value
    assert isinstance(error, redis.ConnectionError) and isinstance(error, redis.TimeoutError)
    assert cutter.cut == 1
    (job_id,) = error.job_ids
    assert error.unknown_ids == [job_id] and error.enqueued_ids == []
    assert "look each id up" in str(error)
    # it ran: the safe retry looks the id up and finds it stored
    assert Job.exists(job_id, connection=connection)
    assert Queue("e", connection=connection).get_job_ids() == [job_id]


def test_retrying_with_the_same_id_does_not_duplicate(cutter, connection):
    queue = Queue("e", connection=_through(cutter))
    cutter.cut_after(0)
    with pytest.raises(EnqueueInterrupted) as caught:
        queue.enqueue("builtins.print", 1, job_id="order-42")
    assert caught.value.job_ids == ["order-42"]
    queue.enqueue("builtins.print", 1, job_id="order-42")  # a retry of a queued id
    assert Queue("e", connection=connection).get_job_ids() == ["order-42"]


def test_enqueue_many_says_which_batches_landed(cutter, connection):
    queue = Queue("e", connection=_through(cutter))
    datas = [Queue.prepare_data("builtins.print", [i]) for i in range(1200)]  # 3 batches
    cutter.cut_after(1)  # the first batch's reply arrives, the second's is lost
    with pytest.raises(EnqueueInterrupted) as caught:
        queue.enqueue_many(datas)
    error = caught.value
    assert len(error.job_ids) == 1200
    assert error.enqueued_ids == error.job_ids[:500]
    assert error.unknown_ids == error.job_ids[500:]
    assert error.not_enqueued_ids == []
    stored = Queue("e", connection=connection)
    # all three ran (the third may still be on its way through the proxy): the unknown ones
    # are there to be found
    wait_until(lambda: stored.count == 1200, timeout=10)
    assert all(Job.exists(i, connection=connection) for i in error.unknown_ids[::97])


def test_nothing_sent_means_nothing_stored(connection):
    closed = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    queue = Queue("e", connection=closed)
    with pytest.raises(EnqueueInterrupted) as caught:
        queue.enqueue_many([Queue.prepare_data("builtins.print", [i]) for i in range(3)])
    error = caught.value
    assert error.not_enqueued_ids == error.job_ids and len(error.job_ids) == 3
    assert error.unknown_ids == [] and "3 job(s) not stored" in str(error)


def test_a_refused_batch_is_reported_with_its_ids(connection):
    queue = Queue("e", connection=connection)
    before = connection.config_get("maxmemory")["maxmemory"]
    connection.config_set("maxmemory", 1)  # every write is refused: OOM
    try:
        with pytest.raises(EnqueueRefused) as caught:
            queue.enqueue_many([Queue.prepare_data("builtins.print", [i]) for i in range(700)])
    finally:
        connection.config_set("maxmemory", before)
    error = caught.value
    assert isinstance(error, redis.ResponseError)
    assert error.unknown_ids == error.job_ids and len(error.job_ids) == 700
    assert "maxmemory" in str(error)


def test_a_missing_dependency_stores_nothing_and_says_so(connection):
    queue = Queue("e", connection=connection)
    with pytest.raises(MissingDependency) as caught:
        queue.enqueue("builtins.print", 1, depends_on="never-saved", job_id="child")
    assert isinstance(caught.value, NoSuchJobError)
    assert "never-saved" in str(caught.value) and "does not exist" in str(caught.value)
    assert caught.value.not_enqueued_ids == ["child"]
    assert not Job.exists("child", connection=connection)
    assert queue.count == 0


def test_enqueue_many_with_a_missing_dependency_in_a_later_batch(connection):
    queue = Queue("e", connection=connection)
    datas = [Queue.prepare_data("builtins.print", [i]) for i in range(500)]
    datas.append(Queue.prepare_data("builtins.print", ["late"], depends_on="nope"))
    with pytest.raises(MissingDependency) as caught:
        queue.enqueue_many(datas)
    error = caught.value
    assert len(error.enqueued_ids) == 500 and len(error.not_enqueued_ids) == 1
    assert queue.count == 500


def test_a_refused_batch_read_before_the_cut_is_not_reported_stored(cutter, connection):
    queue = Queue("e", connection=_through(cutter))
    datas = [Queue.prepare_data("builtins.print", [0], depends_on="nope", job_id="refused")]
    datas += [Queue.prepare_data("builtins.print", [i]) for i in range(1, 600)]  # 2 batches
    cutter.cut_after(1)  # batch 1's reply (a missing dependency) arrives, batch 2's is lost
    with pytest.raises(EnqueueInterrupted) as caught:
        queue.enqueue_many(datas)
    error = caught.value
    assert "refused" in error.not_enqueued_ids and "refused" not in error.enqueued_ids
    assert not Job.exists("refused", connection=connection)
    assert len(error.unknown_ids) == 100


def test_batches_that_met_noscript_are_classified_by_what_ran(cutter, connection):
    """After SCRIPT FLUSH every batch answers NOSCRIPT and runs again, one at a time: a cut
    then leaves one batch unknown and those after it not run."""
    queue = Queue("e", connection=_through(cutter))
    connection.script_flush()
    # passing: the 3 NOSCRIPT replies, the first re-run's own NOSCRIPT (it loads the script)
    # and its reply; cut: the second re-run's
    cutter.cut_after(5)
    with pytest.raises(EnqueueInterrupted) as caught:
        queue.enqueue_many([Queue.prepare_data("builtins.print", [i]) for i in range(1200)])
    error = caught.value
    assert len(error.enqueued_ids) == 500 and len(error.unknown_ids) == 500
    assert len(error.not_enqueued_ids) == 200
    assert all(Job.exists(i, connection=connection) for i in error.enqueued_ids[::50])
    assert not any(Job.exists(i, connection=connection) for i in error.not_enqueued_ids)


def test_an_error_while_a_batch_runs_again_after_noscript_keeps_the_ids(connection):
    queue = Queue("e", connection=connection)
    connection.script_flush()
    before = connection.config_get("maxmemory")["maxmemory"]
    connection.config_set("maxmemory", 1)
    try:
        with pytest.raises(EnqueueRefused) as caught:
            queue.enqueue_many([Queue.prepare_data("builtins.print", [i]) for i in range(600)])
    finally:
        connection.config_set("maxmemory", before)
    assert len(caught.value.job_ids) == 600


def test_enqueuing_the_same_job_again_is_checked_for_a_duplicate(connection):
    """A Job with a generated id, enqueued again (a retry after an error), must not be put
    on the queue a second time while it is queued."""
    from django_jobqueue.engine import steps

    queue = Queue("e", connection=connection)
    job = Job.create("builtins.print", args=(1,), connection=connection)
    queue.enqueue_job(job)
    steps.take(connection, steps.Take("w1", 30, ["e"]))  # a worker runs it now
    queue.enqueue_job(job)
    assert queue.count == 0 and queue.started_job_registry.get_job_ids() == [job.id]
    assert Job.fetch(job.id, connection=connection).get_status() == "started"
