"""Unique jobs (README "Unique jobs", engine/uniqueness.py): the same call enqueued while a
job of it is queued, scheduled, deferred or running (or finished less than unique_for ago)
returns that job, atomically; the key is released when the job ends, and only its own."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import timedelta

import pytest
import redis

from django_jobqueue import Job, JobStatus, Queue, Retry, Worker
from django_jobqueue.engine import keys, steps, uniqueness
from django_jobqueue.engine.states import MOVES
from tests.engine import jobs_queue as jq
from tests.engine.jobs_queue import assert_in_one_place, running_worker
from tests.harness import wait_until


class Account:
    """A picklable instance whose bound method a job calls."""

    def __init__(self, number: int) -> None:
        self.number = number

    def balance(self, currency: str) -> str:
        return f"{self.number} {currency}"


def burst(queue: Queue) -> None:
    Worker([queue], connection=queue.connection).work(burst=True)


def holder_of(connection, token: str) -> str | None:
    value = connection.get(keys.unique(token))
    return value.decode() if value is not None else None


def unique_keys(connection) -> list[bytes]:
    return sorted(connection.scan_iter(keys.unique("*")))


# --- while a job of the call is active -----------------------------------------------------


def test_the_same_call_while_queued_returns_the_queued_job(queue, connection):
    first = queue.enqueue(jq.add, 1, 2, unique=True)
    again = queue.enqueue(jq.add, 1, 2, unique=True)
    assert again.id == first.id and again.get_status() == JobStatus.QUEUED
    assert queue.count == 1
    assert first.unique_key.startswith(uniqueness.DIGEST_PREFIX)
    assert holder_of(connection, first.unique_key) == first.id
    stored = Job.fetch(first.id, connection=connection)
    assert (stored.unique_key, stored.unique_for) == (first.unique_key, 0)


def test_keyword_order_does_not_matter_and_args_may_be_given_as_a_list(queue):
    first = queue.enqueue(jq.echo, 1, a=1, b=2, unique=True)
    assert queue.enqueue(jq.echo, 1, b=2, a=1, unique=True).id == first.id
    assert queue.enqueue_call(jq.echo, args=[1], kwargs={"b": 2, "a": 1}, unique=True).id \
        == first.id
    assert queue.count == 1


def test_the_same_call_while_scheduled_returns_the_scheduled_job(queue):
    scheduled = queue.enqueue_in(timedelta(hours=1), jq.add, 1, 2, unique=True)
    again = queue.enqueue(jq.add, 1, 2, unique=True)
    assert again.id == scheduled.id and again.get_status() == JobStatus.SCHEDULED
    at = queue.enqueue_at(scheduled.created_at + timedelta(hours=2), jq.add, 1, 2, unique=True)
    assert at.id == scheduled.id
    assert queue.count == 0 and queue.scheduled_job_registry.count == 1


def test_the_same_call_while_deferred_returns_the_deferred_job(queue):
    parent = queue.enqueue(jq.noop)
    child = queue.enqueue(jq.add, 1, 2, depends_on=parent, unique=True)
    again = queue.enqueue(jq.add, 1, 2, unique=True)
    assert again.id == child.id and again.get_status() == JobStatus.DEFERRED
    assert queue.job_ids == [parent.id] and queue.deferred_job_registry.count == 1


def test_the_same_call_while_running_returns_the_running_job(queue, connection, redis_url):
    running = queue.enqueue(jq.gate, "test:gate", unique=True)
    with running_worker([queue], redis_url):
        wait_until(lambda: running.get_status() == JobStatus.STARTED)
        again = queue.enqueue(jq.gate, "test:gate", unique=True)
        assert again.id == running.id and again.get_status() == JobStatus.STARTED
        assert queue.count == 0
        assert_in_one_place(connection, running.id, "default", "started")
        connection.rpush("test:gate", "go")
        wait_until(lambda: running.get_status() == JobStatus.FINISHED)
    assert unique_keys(connection) == []  # no unique_for: released at the finish
    after = queue.enqueue(jq.gate, "test:gate", unique=True)
    assert after.id != running.id and after.get_status() == JobStatus.QUEUED


def test_another_argument_function_queue_or_instance_is_another_job(queue, connection):
    first = queue.enqueue(jq.add, 1, 2, unique=True)
    others = [
        queue.enqueue(jq.add, 1, 3, unique=True),
        queue.enqueue(jq.add, 1.0, 2, unique=True),  # 1 and 1.0 serialize differently
        queue.enqueue(jq.echo, 1, 2, unique=True),
        Queue("other", connection=connection).enqueue(jq.add, 1, 2, unique=True),
        queue.enqueue(jq.add, 1, 2),  # not unique: always a new job
    ]
    assert len({first.id, *(job.id for job in others)}) == 6
    mine = queue.enqueue(Account(1).balance, "EUR", unique=True)
    assert queue.enqueue(Account(1).balance, "EUR", unique=True).id == mine.id  # equal pickle
    assert queue.enqueue(Account(2).balance, "EUR", unique=True).id != mine.id


def test_job_options_do_not_count_but_a_job_id_is_checked_first(queue):
    first = queue.enqueue(jq.add, 1, 2, unique=True, priority=5, description="a")
    again = queue.enqueue(jq.add, 1, 2, unique=True, priority=-5, job_timeout=9, meta={"x": 1})
    assert again.id == first.id and again.priority == 5
    other = queue.enqueue(jq.noop, job_id="mine")
    assert queue.enqueue(jq.add, 1, 2, unique=True, job_id="mine").id == "mine"
    assert other.get_status() == JobStatus.QUEUED and queue.count == 2


def test_a_unique_enqueue_is_still_one_round_trip(queue, connection, count_round_trips):
    with count_round_trips(connection) as counter:
        queue.enqueue(jq.add, 1, 2, unique=True)
    assert counter.value == 1


# --- unique_key ------------------------------------------------------------------------------


def test_a_unique_key_is_shared_across_functions_and_queues(queue, connection):
    first = queue.enqueue(jq.add, 1, 2, unique_key="nightly-report")
    other_queue = Queue("other", connection=connection)
    again = other_queue.enqueue(jq.noop, unique_key="nightly-report")
    assert again.id == first.id and again.args == (1, 2)  # the job kept
    assert other_queue.count == 0 and queue.count == 1
    assert first.unique_key == "nightly-report"
    assert holder_of(connection, "nightly-report") == first.id
    assert queue.enqueue(jq.add, 1, 2, unique=True).id != first.id  # its own digest


# --- after the job ended ---------------------------------------------------------------------


def test_within_unique_for_after_it_finished_the_finished_job_is_returned(queue, connection):
    first = queue.enqueue(jq.add, 1, 2, unique_for=600)
    burst(queue)
    assert first.get_status() == JobStatus.FINISHED
    assert 0 < connection.ttl(keys.unique(first.unique_key)) <= 600  # expires by itself
    again = queue.enqueue(jq.add, 1, 2, unique_for=600)
    assert again.id == first.id and again.get_status() == JobStatus.FINISHED
    assert again.result == 3 and queue.count == 0


def test_after_unique_for_a_new_job_is_enqueued(queue, connection):
    first = queue.enqueue(jq.add, 1, 2, unique_for=600)
    burst(queue)
    # the window is over (as if 601 s had passed), even if the key were still there
    connection.persist(keys.unique(first.unique_key))
    connection.hset(keys.job(first.id), "ended_at", f"{time.time() - 601:.6f}")
    after = queue.enqueue(jq.add, 1, 2, unique_for=600)
    assert after.id != first.id and after.get_status() == JobStatus.QUEUED
    assert holder_of(connection, first.unique_key) == after.id


def test_the_window_key_expires_after_unique_for(queue, connection):
    first = queue.enqueue(jq.add, 1, 2, unique_for=1)
    burst(queue)
    key = keys.unique(first.unique_key)
    assert connection.pttl(key) <= 1000  # set to expire (or expired already): not kept
    wait_until(lambda: not connection.exists(key), timeout=5)
    assert queue.enqueue(jq.add, 1, 2, unique_for=1).id != first.id


def test_a_finished_job_is_kept_at_least_unique_for(queue, connection):
    first = queue.enqueue(jq.add, 1, 2, unique_for=600, result_ttl=0)
    burst(queue)
    assert first.get_status() == JobStatus.FINISHED  # result_ttl 0 alone deletes it
    assert 0 < connection.ttl(keys.job(first.id)) <= 600
    assert queue.enqueue(jq.add, 1, 2, unique_for=600).id == first.id
    kept = queue.enqueue(jq.add, 5, 5, unique_for=60, result_ttl=-1)
    burst(queue)
    assert connection.ttl(keys.job(kept.id)) == -1  # kept for ever, as asked


def test_a_final_failure_releases_the_key_but_a_pending_retry_keeps_it(queue, connection):
    failing = queue.enqueue(jq.fail, "x", unique=True, retry=Retry(max=1, interval=600))
    burst(queue)
    assert failing.get_status() == JobStatus.SCHEDULED  # its retry waits: still held
    assert queue.enqueue(jq.fail, "x", unique=True).id == failing.id
    once = queue.enqueue(jq.fail, "y", unique_for=600)
    burst(queue)
    assert once.get_status() == JobStatus.FAILED
    assert holder_of(connection, once.unique_key) is None  # unique_for counts successes only
    assert queue.enqueue(jq.fail, "y", unique_for=600).id != once.id


def test_cancel_delete_and_empty_release_the_key(queue, connection):
    canceled = queue.enqueue(jq.add, 1, 1, unique=True)
    canceled.cancel()
    deleted = queue.enqueue(jq.add, 2, 2, unique=True)
    deleted.delete()
    emptied = queue.enqueue(jq.add, 3, 3, unique=True)
    assert queue.empty() == 1
    assert unique_keys(connection) == []
    for job, args in ((canceled, (1, 1)), (deleted, (2, 2)), (emptied, (3, 3))):
        assert queue.enqueue(jq.add, *args, unique=True).id != job.id


def test_a_job_failed_after_its_worker_was_lost_releases_the_key(queue, connection):
    lost = queue.enqueue(jq.noop, unique=True, on_worker_lost="fail")
    assert steps.take(connection, steps.Take("dead-worker", 60, ["default"])).job_id == lost.id
    assert steps.take_back_lost(connection, "default", ["dead-worker"], 3, "died").failed == 1
    assert lost.get_status() == JobStatus.FAILED
    assert unique_keys(connection) == []


def test_a_requeued_job_takes_its_key_again_unless_another_holds_it(queue, connection):
    failed = queue.enqueue(jq.fail, unique_key="k")
    burst(queue)
    assert holder_of(connection, "k") is None
    failed.requeue()
    assert holder_of(connection, "k") == failed.id
    assert queue.enqueue(jq.noop, unique_key="k").id == failed.id
    canceled = queue.enqueue(jq.noop, unique_key="other")
    canceled.cancel()
    holder = queue.enqueue(jq.add, 1, 1, unique_key="other")
    canceled.requeue(allowed=MOVES["operator_requeue"].sources)
    assert holder_of(connection, "other") == holder.id


def test_ending_a_job_leaves_a_key_another_job_holds_now(queue, connection):
    """An operator requeued a job whose key another job took meanwhile: when the requeued
    one finishes, fails, is canceled or deleted, the other job keeps the key."""
    other_queue = Queue("other", connection=connection)
    for end in ("finish", "fail", "cancel", "delete"):
        func = jq.fail if end == "fail" else jq.noop
        old = queue.enqueue(func, unique_key=end)
        old.cancel()
        holder = other_queue.enqueue(jq.noop, unique_key=end)
        old.requeue(allowed=MOVES["operator_requeue"].sources)
        if end in ("finish", "fail"):
            burst(queue)
            assert old.get_status() == (JobStatus.FINISHED if end == "finish"
                                        else JobStatus.FAILED)
        elif end == "cancel":
            old.cancel()
        else:
            old.delete()
        assert holder_of(connection, end) == holder.id, end
        assert queue.enqueue(jq.noop, unique_key=end).id == holder.id


# --- batches and races -----------------------------------------------------------------------


def test_a_batch_with_duplicates_keeps_the_first_of_each(queue, connection):
    existing = queue.enqueue(jq.add, 9, 9, unique=True)
    jobs = queue.enqueue_many([
        Queue.prepare_data(jq.add, (1, 2), unique=True),
        Queue.prepare_data(jq.add, (3, 4), unique=True),
        Queue.prepare_data(jq.add, (1, 2), unique=True),
        Queue.prepare_data(jq.add, (9, 9), unique=True),
        Queue.prepare_data(jq.add, (1, 2)),  # not unique
        Queue.prepare_data(jq.noop, unique_key="shared"),
        Queue.prepare_data(jq.add, (5, 5), unique_key="shared"),
    ])
    ids = [job.id for job in jobs]
    assert ids[2] == ids[0] and ids[3] == existing.id and ids[6] == ids[5]
    assert len(set(ids)) == 5
    assert jobs[6].func_name.endswith(".noop")  # the job kept, not the copy
    assert queue.count == 5  # existing, (1, 2), (3, 4), the plain (1, 2) and "shared"


def test_two_batches_of_one_enqueue_many_see_each_other(queue):
    """enqueue_many sends 500 jobs per script call: a copy in a later call is a duplicate."""
    data = [Queue.prepare_data(jq.add, (n, n), unique=True) for n in range(600)]
    jobs = queue.enqueue_many(data + [Queue.prepare_data(jq.add, (1, 1), unique=True)])
    assert jobs[-1].id == jobs[1].id and queue.count == 600


def test_threads_racing_a_unique_enqueue_get_one_job(queue, connection, redis_url):
    threads, per_thread = 8, 25
    barrier = threading.Barrier(threads)
    seen: list[str] = []

    def produce() -> None:
        client = redis.Redis.from_url(redis_url)
        producer = Queue("default", connection=client)
        barrier.wait(timeout=10)
        ids = [producer.enqueue(jq.add, 4, 2, unique=True).id for _ in range(per_thread)]
        seen.extend(ids)
        client.close()

    workers = [threading.Thread(target=produce) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    assert len(seen) == threads * per_thread
    assert len(set(seen)) == 1 and queue.count == 1


def _produce_in_a_process(url: str, barrier, results, per_process: int) -> None:
    client = redis.Redis.from_url(url)
    producer = Queue("default", connection=client)
    barrier.wait(timeout=20)
    results.put([producer.enqueue(jq.add, 6, 7, unique=True).id for _ in range(per_process)])


def test_processes_racing_a_unique_enqueue_get_one_job(queue, redis_url):
    context = multiprocessing.get_context("fork")
    processes, per_process = 6, 50
    barrier = context.Barrier(processes)
    results = context.Queue()
    children = [context.Process(target=_produce_in_a_process,
                                args=(redis_url, barrier, results, per_process))
                for _ in range(processes)]
    for child in children:
        child.start()
    seen = [job_id for _ in children for job_id in results.get(timeout=30)]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    assert len(seen) == processes * per_process
    assert len(set(seen)) == 1 and queue.count == 1


# --- odd cases -------------------------------------------------------------------------------


def test_a_stale_or_corrupt_key_is_taken_over(queue, connection):
    gone = queue.enqueue(jq.add, 1, 2, unique=True)
    connection.delete(keys.job(gone.id))  # as a ttl that ran out before any worker took it
    connection.zrem(keys.queue("default"), gone.id)
    fresh = queue.enqueue(jq.add, 1, 2, unique=True)
    assert fresh.id != gone.id and holder_of(connection, gone.unique_key) == fresh.id
    connection.delete(keys.unique("broken"))
    connection.hset(keys.unique("broken"), "not", "a string")
    taken = queue.enqueue(jq.noop, unique_key="broken")
    assert holder_of(connection, "broken") == taken.id


def test_a_corrupt_unique_for_fails_the_job_or_counts_as_no_window(queue, connection,
                                                                    redis_url):
    before = queue.enqueue(jq.add, 1, 2, unique_for=60)
    connection.hset(keys.job(before.id), "unique_for", "1e999x")
    burst(queue)  # the worker reads the job strictly: it fails, saying which field
    assert before.get_status() == JobStatus.FAILED
    assert b"unique_for" in connection.hget(keys.job(before.id), "exc_info")
    assert unique_keys(connection) == []
    during = queue.enqueue(jq.gate, "test:gate", unique_for=60)
    with running_worker([queue], redis_url):
        wait_until(lambda: during.get_status() == JobStatus.STARTED)
        connection.hset(keys.job(during.id), "unique_for", "nan")  # finish.lua reads it
        connection.rpush("test:gate", "go")
        wait_until(lambda: during.get_status() == JobStatus.FINISHED)
    assert unique_keys(connection) == []  # a window it cannot read counts as none


def test_an_inline_unique_job_runs_and_releases_its_key(connection):
    inline = Queue("default", connection=connection, is_async=False)
    first = inline.enqueue(jq.add, 1, 2, unique=True)
    assert first.get_status() == JobStatus.FINISHED and first.result == 3
    assert unique_keys(connection) == []
    assert inline.enqueue(jq.add, 1, 2, unique=True).id != first.id


def test_job_create_with_unique_and_enqueue_job(queue, connection):
    made = Job.create(jq.add, args=(1, 2), connection=connection, unique=True)
    enqueued = queue.enqueue_job(made)
    assert holder_of(connection, enqueued.unique_key) == made.id
    assert queue.enqueue(jq.add, 1, 2, unique=True).id == made.id


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"unique": "yes"}, TypeError, "unique must be True or False"),
    ({"unique": 1}, TypeError, "unique must be True or False"),
    ({"unique_for": -1}, ValueError, "unique_for"),
    ({"unique_for": "soon"}, ValueError, "unique_for"),
    ({"unique_for": float("nan")}, ValueError, "unique_for"),
    ({"unique_for": 2**40}, ValueError, "unique_for"),
    ({"unique_for": True}, ValueError, "unique_for"),
    ({"unique_key": ""}, ValueError, "unique_key"),
    ({"unique_key": "x" * 257}, ValueError, "unique_key"),
    ({"unique_key": 42}, TypeError, "unique_key"),
    ({"unique_key": "sha256:abc"}, ValueError, "unique_key"),
])
def test_bad_unique_options_are_refused_before_anything_is_stored(queue, connection, options,
                                                                  error, match):
    with pytest.raises(error, match=match):
        queue.enqueue(jq.add, 1, 2, **options)
    with pytest.raises(error, match=match):
        queue.enqueue_many([Queue.prepare_data(jq.add, (1, 2), **options)])
    assert connection.dbsize() == 0


def test_unique_for_takes_durations_and_implies_unique(queue):
    job = queue.enqueue(jq.add, 1, 2, unique_for="15m")
    assert (job.unique_for, job.unique_key.startswith("sha256:")) == (900, True)
    assert queue.enqueue(jq.add, 1, 2, unique_for=0).id == job.id


def test_the_key_of_a_job_with_a_ttl_expires_with_it_unless_a_worker_takes_it(queue,
                                                                               connection):
    from django_jobqueue.engine.channel import Channel

    job = queue.enqueue(jq.add, 1, 1, unique=True, ttl=300)
    key = keys.unique(job.unique_key)
    assert 0 < connection.ttl(key) <= 300  # never taken: the key goes when the job does
    channel = Channel(connection)
    try:
        taken = steps.take(channel, steps.Take("w-ttl", 30, [queue.name]))
    finally:
        channel.close()
    assert taken.job_id == job.id
    assert connection.ttl(keys.job(job.id)) == -1 and connection.ttl(key) == -1  # kept
    assert holder_of(connection, job.unique_key) == job.id
