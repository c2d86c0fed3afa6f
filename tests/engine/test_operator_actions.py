"""What the admin builds on: stopping a running job, bulk moves by id, deleting a whole
registry in batches, counts of many queues in one round trip, pages and bounded search."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from django_jobqueue import Job, JobStatus, Queue, Worker
from django_jobqueue.command import send_stop_job_command
from django_jobqueue.engine import keys, overview, timeouts
from django_jobqueue.engine.exceptions import (
    InvalidJobOperation,
    JobStopRequested,
    NoSuchJobError,
)
from django_jobqueue.engine.moves import apply_to_many, stop_job
from django_jobqueue.engine.utils import decode
from tests.engine.jobs_faults import has_started, tracked, where
from tests.engine.jobs_worker import add, in_thread, raise_error, sleep_for
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- stop


def test_stop_a_running_job_in_a_worker_process(connection, fq, workers):
    proc = workers.start("stopper")
    job = fq.enqueue(tracked, "s1", hold_runs=1, job_timeout=60)
    wait_until(lambda: has_started(connection, "s1"), timeout=15,
               message=f"job never started\n{workers.logs()}")

    stop_job(connection, job.id)

    wait_until(lambda: where(connection, job.id) == ["failed"], timeout=10,
               message=f"job not stopped\n{workers.logs()}")
    job.refresh()
    assert job.get_status(refresh=False) == JobStatus.STOPPED
    assert "stopped by request" in job.exc_info
    assert job.latest_result().type.name == "STOPPED"
    # the worker lives on and takes the next job
    assert proc.poll() is None
    nxt = fq.enqueue(add, 2, 3)
    wait_until(lambda: nxt.get_status() == JobStatus.FINISHED, timeout=10,
               message=workers.logs())
    # a stopped job is never retried by itself, and an operator may requeue it
    job.requeue()
    wait_until(lambda: job.get_status() == JobStatus.FINISHED, timeout=10,
               message=workers.logs())
    assert job.return_value() == "s1:2"


def test_stop_reaches_a_job_in_a_worker_thread(connection):
    queue = Queue("stopq", connection=connection)
    job = queue.enqueue(sleep_for, 0.05, job_timeout=60, retry=None)
    busy = queue.enqueue(_spin, 30)
    worker = Worker([queue], connection=connection, maintenance_interval=0.1)
    with in_thread(worker, burst=True):
        wait_until(lambda: busy.get_status() == JobStatus.STARTED, timeout=10)
        stop_job(connection, busy.id)
        wait_until(lambda: busy.get_status() == JobStatus.STOPPED, timeout=10)
    assert job.get_status() == JobStatus.FINISHED
    assert busy.get_status() == JobStatus.STOPPED
    assert busy.id in queue.failed_job_registry


def _spin(limit: float) -> None:
    """Busy Python code (an asynchronous exception lands between two bytecodes)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        pass
    raise RuntimeError("never stopped")


def test_stop_refuses_a_job_that_is_not_running(connection, fq):
    job = fq.enqueue(add, 1, 2)
    with pytest.raises(InvalidJobOperation, match="queued, not started"):
        stop_job(connection, job.id)
    with pytest.raises(NoSuchJobError):
        send_stop_job_command(connection, "nope")  # RQ's name and import path
    assert where(connection, job.id) == ["queue"]
    assert connection.keys(keys.stop("*")) == []


# --------------------------------------------------------------------------- bulk moves


def test_apply_to_many_reports_each_outcome(connection):
    queue = Queue("bulk", connection=connection)
    queued = queue.enqueue(add, 1, 1)
    failed = queue.enqueue(raise_error)
    finished = queue.enqueue(add, 2, 2)
    Worker([queue], connection=connection).work(burst=True)
    # the queued job was run too: enqueue a fresh one to cancel
    queued = queue.enqueue(add, 3, 3)

    out = apply_to_many(connection, "requeue", [failed.id, finished.id, queued.id, "gone"])
    assert out == {failed.id: "ok", finished.id: "ok", queued.id: "status:queued",
                   "gone": "missing"}
    assert queue.count == 3

    out = apply_to_many(connection, "cancel", [failed.id, "gone"])
    assert out == {failed.id: "ok", "gone": "missing"}
    assert failed.id in queue.canceled_job_registry

    out = apply_to_many(connection, "stop", [queued.id])
    assert out == {queued.id: "status:queued"}

    out = apply_to_many(connection, "delete", [queued.id, finished.id, "gone"])
    assert out == {queued.id: "ok", finished.id: "ok", "gone": "missing"}
    assert not Job.exists(queued.id, connection) and queue.count == 0
    assert apply_to_many(connection, "delete", []) == {}
    with pytest.raises(ValueError):
        apply_to_many(connection, "explode", ["x"])


def test_delete_all_failed_in_batches(connection):
    queue = Queue("many", connection=connection)
    jobs = [queue.enqueue(raise_error) for _ in range(25)]
    Worker([queue], connection=connection).work(burst=True)
    registry = queue.failed_job_registry
    assert registry.count == 25
    assert registry.delete_all(batch_size=7) == 25
    assert registry.count == 0
    assert not any(Job.exists(j.id, connection) for j in jobs)


# --------------------------------------------------------------------------- overview


def test_overview_counts_every_state_in_one_round_trip(connection, count_round_trips):
    a, b = Queue("a", connection=connection), Queue("b", connection=connection)
    a.enqueue(add, 1, 2)
    a.enqueue(raise_error)
    a.enqueue_in(__import__("datetime").timedelta(hours=1), add, 1, 1)
    Worker([a], connection=connection).work(burst=True)
    for _ in range(3):
        a.enqueue(add, 0, 0)
    b.enqueue(add, 5, 5).cancel()

    overview.overview(connection, ["a"])  # the first call loads the script
    with count_round_trips(connection) as trips:
        counts, workers = overview.overview(connection, ["a", "b", "empty"])
    assert trips.value == 1
    by = {c.name: c for c in counts}
    assert (by["a"].queued, by["a"].finished, by["a"].failed, by["a"].scheduled) == (3, 1, 1, 1)
    assert (by["b"].queued, by["b"].canceled) == (0, 1)
    assert by["empty"].by_state() == [(s, 0) for s in overview.STATES]
    assert by["a"].oldest_age is not None and by["a"].oldest_age >= 0
    assert by["b"].oldest_age is None
    assert workers == []


def test_oldest_job_across_priorities_and_at_front(connection):
    queue = Queue("prio", connection=connection)
    first = queue.enqueue(add, 1, 1, priority=-5)  # runs last, waits longest
    queue.enqueue(add, 1, 1, priority=50)
    queue.enqueue(add, 1, 1, at_front=True)
    counts, _ = overview.overview(connection, ["prio"])
    first.refresh()
    assert counts[0].oldest_enqueued_at == first.enqueued_at


def test_overview_lists_live_workers_per_queue(connection):
    queue = Queue("w", connection=connection)
    job = queue.enqueue(tracked, "ov1", hold_runs=1)
    worker = Worker([queue, "other"], connection=connection, name="ov-worker")
    with in_thread(worker, burst=True):
        wait_until(lambda: has_started(connection, "ov1"), timeout=10)
        counts, workers = overview.overview(connection, ["w", "other", "none"])
        assert [w.name for w in workers] == ["ov-worker"]
        assert [w.name for w in counts[0].workers] == ["ov-worker"]
        assert counts[2].workers == []
        assert counts[0].started == 1
        assert workers[0].current_job_id == job.id
        connection.set("faults:release:ov1", 1)


def test_pages_and_summaries(connection, count_round_trips):
    queue = Queue("pages", connection=connection)
    jobs = [queue.enqueue(add, i, i, description=f"job {i}") for i in range(30)]
    jobs[0].meta["progress"] = 40
    jobs[0].save_meta()
    overview.page_of_ids(connection, "pages", "queued", 0, 1, False)  # loads the script
    with count_round_trips(connection) as trips:
        total, ids = overview.page_of_ids(connection, "pages", "queued", 0, 10, False)
        rows = overview.summaries(connection, ids)
    assert trips.value == 2
    assert total == 30 and ids == [j.id for j in jobs[:10]]
    assert rows[0].progress == 40 and rows[1].progress is None
    assert rows[0].func_name.endswith("add") and rows[0].description == "job 0"
    total, ids = overview.page_of_ids(connection, "pages", "queued", 25, 10, True)
    assert ids == [j.id for j in reversed(jobs[:5])]
    assert overview.summaries(connection, ["missing"]) == [None]
    with pytest.raises(ValueError):
        overview.page_of_ids(connection, "pages", "bogus", 0, 10, False)


def test_pages_of_an_expiring_registry_skip_expired_entries(connection):
    queue = Queue("exp", connection=connection)
    failed = [queue.enqueue(raise_error) for _ in range(5)]
    Worker([queue], connection=connection).work(burst=True)
    key = keys.registry("failed", "exp")
    connection.zadd(key, {"old-1": 1, "old-2": 2})  # expired entries (their hashes are gone)
    in_order = [decode(i) for i in connection.zrangebyscore(key, f"({time.time()}", "+inf")]
    assert sorted(in_order) == sorted(j.id for j in failed)

    total, ids = overview.page_of_ids(connection, "exp", "failed", 0, 3, False)
    assert (total, ids) == (5, in_order[:3])
    total, ids = overview.page_of_ids(connection, "exp", "failed", 3, 3, False)
    assert ids == in_order[3:]
    total, ids = overview.page_of_ids(connection, "exp", "failed", 0, 3, True)
    assert ids == in_order[::-1][:3]
    total, ids = overview.page_of_ids(connection, "exp", "failed", 3, 10, True)
    assert ids == in_order[::-1][3:]
    assert overview.page_of_ids(connection, "exp", "failed", 5, 10, True) == (5, [])


def test_summary_of_a_corrupt_job_says_what_is_wrong(connection):
    queue = Queue("bad", connection=connection)
    job = queue.enqueue(add, 1, 2)
    connection.hset(keys.job(job.id), mapping={"meta": b"tampered", "started_at": "soon",
                                               "status": "weird"})
    (row,) = overview.summaries(connection, [job.id])
    assert row.func_name.endswith("add")
    assert "meta unreadable" in row.problem and "started_at" in row.problem
    assert "unknown status" in row.problem


def test_search_scans_a_bounded_slice(connection):
    queue = Queue("find", connection=connection)
    adds = [queue.enqueue(add, i, i) for i in range(5)]
    errors = [queue.enqueue(raise_error) for _ in range(5)]
    ids, next_start, total = overview.search(connection, "find", "queued", "raise_err", 0,
                                             False, wanted=100, slice_size=4)
    assert (ids, next_start, total) == ([], 4, 10)
    ids, next_start, _ = overview.search(connection, "find", "queued", "raise_err", 4, False,
                                         wanted=3, slice_size=100)
    assert ids == [j.id for j in errors[:3]] and next_start == 8
    ids, next_start, _ = overview.search(connection, "find", "queued", adds[2].id, 0, True,
                                         wanted=10)
    assert ids == [adds[2].id] and next_start == -1


# --------------------------------------------------------------------------- interrupts


def test_an_interrupt_lands_only_in_the_job_it_names():
    """A stop meant for a job that has ended is dropped: it never hits the next job."""
    main = threading.get_ident()
    previous = signal.getsignal(signal.SIGALRM)
    timeouts.install_handler()
    try:
        with pytest.raises(JobStopRequested):
            with timeouts.running_job("a"):
                assert timeouts.interrupt(main, "b", JobStopRequested()) is False
                assert timeouts.interrupt(main, "a", JobStopRequested()) is True
                time.sleep(10)  # the signal interrupts the sleep
        with timeouts.running_job("b"):
            pass
        assert timeouts.interrupt(main, "a", JobStopRequested()) is False  # a has ended
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_an_interrupt_reaches_a_job_in_another_thread_and_only_while_it_runs():
    outcome = {}
    started = threading.Event()

    def job() -> None:
        try:
            with timeouts.running_job("t"):
                started.set()
                _spin(10)
        except JobStopRequested:
            outcome["stopped"] = True
        with timeouts.running_job("u"):
            outcome["next"] = "ran"

    thread = threading.Thread(target=job)
    thread.start()
    started.wait(5)
    assert timeouts.interrupt(thread.ident, "t", JobStopRequested()) is True
    thread.join(10)
    assert outcome == {"stopped": True, "next": "ran"}
    assert timeouts.interrupt(thread.ident, "t", JobStopRequested()) is False


def test_oldest_job_passes_over_ids_whose_job_expired(connection):
    queue = Queue("ghosts", connection=connection)
    ghost = queue.enqueue(add, 1, 1)
    live = queue.enqueue(add, 2, 2)
    connection.delete(keys.job(ghost.id))  # as when a queued job's ttl runs out
    counts, _ = overview.overview(connection, ["ghosts"])
    live.refresh()
    assert counts[0].oldest_enqueued_at == live.enqueued_at


def test_requeue_all_looks_past_entries_it_must_leave(connection):
    """A failed registry entry whose job is not failed (inconsistent data) is left in place,
    and the failed jobs after it are still requeued."""
    queue = Queue("odd", connection=connection)
    jobs = [queue.enqueue(raise_error) for _ in range(5)]
    Worker([queue], connection=connection).work(burst=True)
    connection.hset(keys.job(jobs[0].id), "status", "queued")  # first in the registry
    assert queue.failed_job_registry.requeue_all(batch_size=1) == 4
    assert queue.failed_job_registry.get_job_ids() == [jobs[0].id]
