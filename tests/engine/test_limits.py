"""Rate and concurrency limits (issue 11), checked by the take in the same step: a job over
its limit waits in the scheduled registry (no attempt counted) while the rest of the queue
flows, a freed slot wakes a waiter, and bad declarations are refused at enqueue."""

from __future__ import annotations

import pytest

from django_jobqueue import Job, JobStatus, RateLimit
from django_jobqueue.engine import keys, limits
from tests.engine import jobs_flow as jf
from tests.engine import jobs_worker as jobs
from tests.engine.jobs_queue import assert_in_one_place

pytestmark = pytest.mark.timeout(60)


def take(connection, queue, worker="w1"):
    """One take, as a worker makes it: the job handed over, or None."""
    from django_jobqueue.engine import steps

    return steps.take(connection, steps.Take(worker, 60, [queue.name]))


def test_declarations_are_parsed_and_stored_on_the_job(connection, queue):
    job = queue.enqueue(jf.counted, rate_limit="100/m", concurrency_limit=5)
    stored = Job.fetch(job.id, connection=connection)
    assert (stored.limit_key, stored.limit_rate, stored.limit_concurrency) == (
        "tests.engine.jobs_flow.counted", "100/60", 5)
    shared = queue.enqueue(jf.other, rate_limit="5/10s", limit_key="stripe-api")
    assert Job.fetch(shared.id, connection=connection).limit_key == "stripe-api"
    rq_style = queue.enqueue(jf.other, rate_limit=RateLimit(key="reports", concurrency=2))
    assert Job.fetch(rq_style.id, connection=connection).limit_concurrency == 2
    listed = {u.key: u for u in limits.all_limits(connection)}
    assert set(listed) == {"tests.engine.jobs_flow.counted", "stripe-api", "reports"}
    assert listed["stripe-api"].limit.describe() == "5 per 10 s"
    assert listed["tests.engine.jobs_flow.counted"].limit.describe() == "100 per 60 s, 5 at once"


@pytest.mark.parametrize("options, message", [
    ({"rate_limit": "fast"}, "must look like"),
    ({"rate_limit": "0/s"}, "at least 1"),
    ({"rate_limit": "5/0s"}, "more than 0 seconds"),
    ({"rate_limit": "5/fortnight"}, "unknown unit"),
    ({"concurrency_limit": 0}, "at least 1"),
    ({"concurrency_limit": True}, "whole number"),
    ({"limit_key": "k"}, "needs rate_limit or concurrency_limit"),
    ({"concurrency_limit": 1, "limit_key": "has space"}, "limit_key must be"),
])
def test_bad_declarations_are_refused_at_enqueue(connection, queue, options, message):
    with pytest.raises(ValueError, match=message):
        queue.enqueue(jf.counted, **options)
    assert queue.count == 0


def test_over_the_rate_a_job_waits_scheduled_and_the_queue_flows(connection, queue):
    limited = [queue.enqueue(jf.counted, str(n), rate_limit="2/h") for n in range(4)]
    free = queue.enqueue(jf.other)
    taken = [take(connection, queue) for _ in range(3)]
    assert [t.job_id for t in taken] == [limited[0].id, limited[1].id, free.id]
    assert take(connection, queue) is None
    for job in limited[2:]:
        stored = Job.fetch(job.id, connection=connection)
        assert stored.get_status() == JobStatus.SCHEDULED
        assert stored.attempts == 0  # not an attempt
        assert_in_one_place(connection, job.id, queue.name, "scheduled")
    # waiting: the first when the first start leaves the window, the next one after it
    due = dict(connection.zrange(keys.limit_waiting("tests.engine.jobs_flow.counted"), 0, -1,
                                 withscores=True))
    starts = sorted(s for _, s in connection.zrange(
        keys.limit_starts("tests.engine.jobs_flow.counted"), 0, -1, withscores=True))
    assert due[limited[2].id.encode()] == pytest.approx(starts[0] + 3600, abs=1)
    assert due[limited[3].id.encode()] == pytest.approx(starts[1] + 3600, abs=1)


def test_a_concurrency_slot_freed_by_a_finish_wakes_a_waiter(connection, queue):
    first, second = (queue.enqueue(jf.counted, n, concurrency_limit=1) for n in "ab")
    free = queue.enqueue(jf.other)
    worker = jobs.make_worker([queue], connection)
    assert take(connection, queue, worker.name).job_id == first.id
    assert take(connection, queue, "w2").job_id == free.id  # second waits; the queue flows
    assert Job.fetch(second.id, connection=connection).get_status() == JobStatus.SCHEDULED
    # the first one's finish frees the slot: the waiter is back at the front of its queue
    connection.delete(keys.worker(worker.name))
    from django_jobqueue.engine import steps

    rec = steps.Recording(first.id, queue.name, worker.name, 1, b"", True, result_ttl=500)
    assert steps.finish(connection, rec)[0] == "finished"
    assert Job.fetch(second.id, connection=connection).get_status() == JobStatus.QUEUED
    assert take(connection, queue, "w3").job_id == second.id


def test_a_worker_runs_limited_jobs_without_counting_failures(connection, queue):
    for n in range(3):
        queue.enqueue(jf.counted, str(n), concurrency_limit=1, result_ttl=-1)
    jobs.make_worker([queue], connection).work(burst=True)
    registry = queue.finished_job_registry
    assert registry.count == 3
    assert connection.scard(keys.limit_running("tests.engine.jobs_flow.counted")) == 0


@pytest.mark.parametrize("field, value", [("limit_rate", "lots"), ("limit_rate", "0/1"),
                                          ("limit_concurrency", "many"),
                                          ("limit_concurrency", "-3")])
def test_a_corrupt_limit_in_redis_counts_as_no_limit(connection, queue, field, value):
    first = queue.enqueue(jf.counted, "a", rate_limit="1/h", concurrency_limit=1)
    second = queue.enqueue(jf.counted, "b", rate_limit="1/h", concurrency_limit=1)
    assert take(connection, queue).job_id == first.id
    connection.hset(keys.job(second.id), field, value)
    if field == "limit_rate":
        connection.hdel(keys.job(second.id), "limit_concurrency")
    else:
        connection.hdel(keys.job(second.id), "limit_rate")
    assert take(connection, queue, "w2").job_id == second.id  # runs rather than waits
