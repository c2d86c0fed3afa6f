"""Per-queue pause (engine/pausing.py): a paused queue keeps accepting jobs and no worker takes
from it, from the moment ``pause()`` returns; a worker serving several queues goes on with
the others; a resume wakes a blocked worker at once; ``--burst`` counts a paused queue as
empty (in-process worker, worker process and pool); a corrupt ``paused`` key pauses nothing
and breaks no step."""

from __future__ import annotations

import threading

import pytest
import redis

from django_jobqueue import JobStatus, Queue, Worker
from django_jobqueue.engine import keys, overview, pausing, steps
from django_jobqueue.engine.exceptions import InvalidQueueName
from tests.engine import jobs_pool as jp
from tests.engine import jobs_worker as jw
from tests.engine.jobs_faults import blocked_in_blpop
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(90)

PAUSED, OPEN = "paused", "open"
QUEUED, FINISHED = JobStatus.QUEUED, JobStatus.FINISHED


@pytest.fixture
def paused(connection):
    queue = Queue(PAUSED, connection=connection)
    assert queue.pause() is True
    return queue


@pytest.fixture
def open_queue(connection):
    return Queue(OPEN, connection=connection)


def statuses(jobs):
    return [job.get_status() for job in jobs]


# --------------------------------------------------------------------------- the API


def test_a_paused_queue_keeps_accepting_jobs(paused, connection):
    assert paused.is_paused
    assert paused.pause() is False  # paused already
    jobs = [paused.enqueue(jw.add, i, 1) for i in range(3)]
    assert paused.count == 3 and statuses(jobs) == [QUEUED] * 3
    assert pausing.paused_queues(connection) == {PAUSED}
    assert not Queue(OPEN, connection=connection).is_paused
    assert paused.resume() is True and not paused.is_paused
    assert paused.resume() is False  # running already
    assert paused.count == 3 and pausing.paused_queues(connection) == set()


def test_an_invalid_queue_name_is_refused_before_anything_is_paused(connection):
    with pytest.raises(InvalidQueueName, match="Invalid queue name 'no spaces'"):
        Queue("no spaces", connection=connection).pause()
    with pytest.raises(InvalidQueueName, match="Invalid queue name ''"):
        Queue("", connection=connection).resume()
    assert not connection.exists(keys.paused())


def test_deleting_a_queue_forgets_its_pause(paused):
    paused.enqueue(jw.add, 1, 1)
    paused.delete()
    assert not paused.is_paused


def test_the_overview_marks_paused_queues_in_its_one_round_trip(paused, open_queue,
                                                                connection, count_round_trips):
    paused.enqueue(jw.add, 1, 1)
    overview.overview(connection, [OPEN])  # loads the script
    with count_round_trips(connection) as trips:
        counts, _ = overview.overview(connection, [PAUSED, OPEN])
    assert trips.value == 1
    assert [(c.name, c.paused, c.queued) for c in counts] == [(PAUSED, True, 1),
                                                              (OPEN, False, 0)]


# --------------------------------------------------------------------------- in-process worker


def test_a_burst_worker_of_two_queues_runs_the_open_one_and_leaves_the_paused_one(
        paused, open_queue, connection):
    held = [paused.enqueue(jw.add, i, 1) for i in range(3)]
    ran = [open_queue.enqueue(jw.add, i, 2) for i in range(3)]
    # the paused queue first: in strict priority order it would be taken from first
    assert jw.make_worker([paused, open_queue], connection).work(burst=True) is True
    assert statuses(ran) == [FINISHED] * 3
    assert statuses(held) == [QUEUED] * 3 and paused.count == 3
    # a burst worker of the paused queue alone leaves at once, having taken nothing
    assert jw.make_worker([paused], connection).work(burst=True) is False
    assert paused.count == 3
    paused.resume()
    assert jw.make_worker([paused], connection).work(burst=True) is True
    assert statuses(held) == [FINISHED] * 3


def test_no_job_is_taken_once_pause_returns(connection):
    busy = Queue("busy", connection=connection)
    total = 2000
    busy.enqueue_many([Queue.prepare_data(jw.sleep_for, [0.002]) for _ in range(total)])
    with jw.in_thread(jw.make_worker([busy], connection)):
        wait_until(lambda: busy.finished_job_registry.count >= 20, timeout=30)
        busy.pause()
        left = busy.count
        # the job in hand finishes (its outcome's step takes nothing), then the worker idles
        wait_until(lambda: blocked_in_blpop(connection) and busy.started_job_registry.count == 0,
                   timeout=30)
        assert busy.count == left
    assert 0 < left < total
    assert busy.finished_job_registry.count + left == total


def test_an_enqueue_to_a_paused_queue_wakes_its_worker_once_and_resume_at_once(
        paused, redis_url, connection, monkeypatch):
    """The worker's blocking wait is 30 s: a job run within the 10 s deadline after the
    resume was taken on the resume's wake-up token, not after the wait ran out."""
    takes = []
    original_take = steps.take

    def counted_take(via, request):
        takes.append(request.queues)
        return original_take(via, request)

    monkeypatch.setattr(steps, "take", counted_take)
    client = redis.Redis.from_url(redis_url, socket_timeout=60)
    worker = Worker([Queue(PAUSED, connection=client)], connection=client, wait_timeout=30,
                    maintenance_interval=0.05)
    thread = threading.Thread(target=worker.work, daemon=True)
    thread.start()
    try:
        wait_until(lambda: takes and blocked_in_blpop(connection))
        job = paused.enqueue(jw.add, 2, 3)
        # the enqueue's token wakes it: it takes nothing and blocks again, the token used up
        wait_until(lambda: len(takes) >= 2 and blocked_in_blpop(connection)
                   and not connection.llen(keys.notify(PAUSED)))
        commands = connection.info("stats")["total_commands_processed"]
        # time passes, maintenance ticks (every 50 ms) go on: the waiting worker does not spin
        wait_until(lambda: connection.info("stats")["total_commands_processed"]
                   > commands + 100, timeout=20)
        assert len(takes) == 2 and job.get_status() == QUEUED
        paused.resume()
        wait_until(lambda: job.get_status() == FINISHED, timeout=10)
        assert job.result == 5
    finally:
        worker.request_stop()
        connection.rpush(keys.notify(PAUSED), "1")  # ends its 30 s wait
        thread.join(timeout=30)
        client.close()
    assert not thread.is_alive()


def test_each_take_reads_the_paused_set_once_whatever_the_number_of_queues(connection):
    queues = [Queue(f"q{i}", connection=connection) for i in range(5)]
    jobs = [queues[-1].enqueue(jw.add, i, 1) for i in range(10)]
    connection.config_resetstat()
    assert jw.make_worker(queues, connection).work(burst=True) is True
    assert statuses(jobs) == [FINISHED] * 10
    stats = connection.info("commandstats")
    # one take before the first job, one with each outcome (the last finds nothing)
    assert stats["cmdstat_smismember"]["calls"] == 11


def test_a_corrupt_paused_key_pauses_nothing_and_breaks_no_step(open_queue, connection):
    connection.set(keys.paused(), "not a set")
    jobs = [open_queue.enqueue(jw.add, i, 1) for i in range(3)]
    assert pausing.jobs_to_take(connection, [OPEN]) == 3
    (counts,), _ = overview.overview(connection, [OPEN])
    assert counts.paused is False and counts.queued == 3
    assert jw.make_worker([open_queue], connection).work(burst=True) is True
    assert statuses(jobs) == [FINISHED] * 3


def test_jobs_to_take_leaves_out_paused_queues(paused, open_queue, connection):
    paused.enqueue(jw.add, 1, 1)
    open_queue.enqueue(jw.add, 1, 1)
    assert pausing.jobs_to_take(connection, [PAUSED, OPEN]) == 1
    assert pausing.jobs_to_take(connection, [PAUSED]) == 0
    paused.resume()
    assert pausing.jobs_to_take(connection, [PAUSED, OPEN]) == 2


# --------------------------------------------------------------------------- real processes

WORKER_AND_POOL = pytest.mark.parametrize("extra", [
    ("--processes", "0"), ("--processes", "1", "--threads", "2")], ids=["worker", "pool"])


@WORKER_AND_POOL
def test_a_worker_process_of_two_queues_serves_the_open_one_until_resumed(
        connection, pools, extra):
    paused = Queue(PAUSED, connection=connection)
    paused.pause()
    open_queue = Queue(OPEN, connection=connection)
    held = [paused.enqueue(jp.noted) for _ in range(3)]
    ran = [open_queue.enqueue(jp.noted) for _ in range(3)]
    pools.start("two", *extra, queue=[PAUSED, OPEN])
    wait_until(lambda: statuses(ran) == [FINISHED] * 3, timeout=30, message=pools.logs())
    assert [jp.runs(connection, job.id) for job in held] == [0, 0, 0]
    assert statuses(held) == [QUEUED] * 3 and paused.count == 3
    more = open_queue.enqueue(jp.noted)  # still served while the other queue is paused
    wait_until(lambda: more.get_status() == FINISHED, timeout=30, message=pools.logs())
    assert paused.count == 3
    paused.resume()
    wait_until(lambda: statuses(held) == [FINISHED] * 3, timeout=30, message=pools.logs())
    assert [jp.runs(connection, job.id) for job in held + ran] == [1] * 6


@pytest.mark.parametrize("extra", [
    ("--processes", "0"), ("--processes", "2")], ids=["worker", "pool-of-2"])
def test_burst_ends_with_the_paused_queues_jobs_still_queued(connection, pools, extra):
    paused = Queue(PAUSED, connection=connection)
    paused.pause()
    held = [paused.enqueue(jp.noted) for _ in range(3)]
    ran = [Queue(OPEN, connection=connection).enqueue(jp.noted) for _ in range(5)]
    proc = pools.start("burst", "--burst", *extra, queue=[PAUSED, OPEN])
    assert proc.wait(timeout=60) == 0, pools.logs()
    assert statuses(ran) == [FINISHED] * 5
    assert statuses(held) == [QUEUED] * 3 and paused.count == 3
    assert [jp.runs(connection, job.id) for job in held] == [0, 0, 0]
