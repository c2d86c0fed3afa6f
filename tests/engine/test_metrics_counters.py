"""Cumulative metrics in Redis (issue 12): per queue and function, outcomes and a run-time
histogram written by the step that records each outcome (no extra round trip), per-minute
throughput, kept across worker restarts, and a corrupt metrics key that never fails a job."""

from __future__ import annotations

import pytest

from django_jobqueue import JobStatus, Retry
from django_jobqueue.engine import keys, metrics
from tests.engine import jobs_worker as jobs

pytestmark = pytest.mark.timeout(60)

ADD = "tests.engine.jobs_worker.add"
RAISE = "tests.engine.jobs_worker.raise_error"


def burst(queue, **kwargs):
    jobs.make_worker([queue], queue.connection, **kwargs).work(burst=True)


def test_outcomes_and_run_times_are_counted_per_function(queue, connection):
    for n in range(3):
        queue.enqueue(jobs.add, n, n)
    queue.enqueue(jobs.raise_error, retry=Retry(max=1))
    queue.enqueue(jobs.sleep_for, 0.3)
    burst(queue)
    found = metrics.read_counters(connection, [queue.name])[queue.name]
    assert found[ADD].counts == {"finished": 3, "retried": 0, "failed": 0, "stopped": 0}
    assert found[RAISE].counts == {"finished": 0, "retried": 1, "failed": 1, "stopped": 0}
    assert found[ADD].runs == 3 and found[RAISE].runs == 2
    slow = found["tests.engine.jobs_worker.sleep_for"]
    assert slow.runs == 1 and 0.3 <= slow.seconds < 5
    # 0.3 s falls in the (0.25, 0.5] bucket
    assert slow.buckets[metrics.BUCKETS.index(0.5)] == 1
    assert 0.25 <= slow.percentile(0.5) <= 0.5
    assert found[ADD].cumulative()[-1] == (float("inf"), 3)


def test_counters_keep_counting_across_worker_restarts(queue, connection):
    queue.enqueue(jobs.add, 1, 1)
    burst(queue, name="first")
    queue.enqueue(jobs.add, 2, 2)
    queue.enqueue(jobs.add, 3, 3)
    burst(queue, name="second")
    found = metrics.read_counters(connection, [queue.name])[queue.name]
    assert found[ADD].counts["finished"] == 3  # never reset by a restart


def test_per_minute_history_reads_in_one_round_trip(queue, connection, count_round_trips):
    queue.enqueue(jobs.add, 1, 1)
    queue.enqueue(jobs.raise_error)
    burst(queue)
    seconds, _ = connection.time()
    with count_round_trips(connection) as counted:
        history = metrics.read_history(connection, [queue.name, "other"], minutes=120,
                                       now=seconds)
    assert counted.value == 1
    minutes = history[queue.name]
    assert len(minutes) == 120 and minutes[-1].minute == seconds // 60 * 60
    assert sum(m.finished for m in minutes) == 1 and sum(m.failed for m in minutes) == 1
    assert sum(m.finished for m in history["other"]) == 0
    ttl = connection.ttl(keys.history(queue.name, seconds // 3600))
    assert 0 < ttl <= metrics.HISTORY_TTL


def test_a_corrupt_metrics_key_never_fails_the_job(queue, connection):
    connection.set(keys.metrics(queue.name), "not a hash")
    job = queue.enqueue(jobs.add, 2, 2)
    burst(queue)
    assert job.get_status() == JobStatus.FINISHED
    assert metrics.read_counters(connection, [queue.name]) == {queue.name: {}}


def test_corrupt_counter_values_read_as_absent(queue, connection):
    connection.hset(keys.metrics(queue.name), mapping={
        f"{ADD}|finished": "lots", f"{ADD}|b99": 5, f"{ADD}|us": 10, "bare": 1})
    found = metrics.read_counters(connection, [queue.name])[queue.name]
    assert found[ADD].counts["finished"] == 0 and found[ADD].runs == 0
    assert found[ADD].total_us == 10


def test_a_job_whose_worker_died_for_good_counts_as_failed_without_a_run_time(queue,
                                                                              connection):
    from django_jobqueue.engine import steps

    queue.enqueue(jobs.add, 1, 1, on_worker_lost="fail")
    connection.hset(keys.worker("dead"), mapping={"name": "dead", "current_job": ""})
    steps.take(connection, steps.Take("dead", 30, [queue.name]))
    assert steps.take_back_lost(connection, queue.name, ["dead"], 3, "was killed").failed == 1
    found = metrics.read_counters(connection, [queue.name])[queue.name]
    assert found[ADD].counts["failed"] == 1 and found[ADD].runs == 0


def test_a_workers_maintenance_samples_each_queues_depth_once_a_minute(queue, connection):
    from django_jobqueue.engine import steps

    for n in range(3):
        queue.enqueue(jobs.add, n, n)
    for _ in range(2):  # two workers' maintenance in the same minute: the first one counts
        pipe = connection.pipeline(transaction=False)
        steps.sample_depth_on(pipe, [queue.name, "empty"])
        pipe.execute()
        queue.enqueue(jobs.add, 9, 9)
    seconds, _ = connection.time()
    depth = metrics.read_depth(connection, [queue.name, "empty"], minutes=3, now=seconds)
    assert depth[queue.name][-1] == (seconds // 60 * 60, 3)
    assert depth["empty"][-1][1] == 0
    assert [d for _, d in depth[queue.name][:-1]] == [None, None]


def test_the_maintenance_tick_samples_the_depth(queue, connection):
    queue.enqueue(jobs.add, 1, 1)
    worker = jobs.make_worker([queue], connection)
    worker.work(burst=True)  # its first tick samples
    seconds, _ = connection.time()
    assert metrics.read_depth(connection, [queue.name], 2, now=seconds)[queue.name][-1][1] \
        is not None


def test_history_and_depth_read_together_and_odd_digits_are_skipped(queue, connection,
                                                                    count_round_trips):
    seconds, _ = connection.time()
    hour, minute = seconds // 3600, seconds // 60
    connection.hset(keys.history(queue.name, hour), mapping={
        f"{minute}|finished": 4, "²|finished": 1, f"{minute}|failed": "²"})
    connection.hset(keys.depth(queue.name, hour), mapping={str(minute): 7, "³": 1})
    connection.hset(keys.metrics(queue.name), mapping={f"{ADD}|b²": 1, f"{ADD}|finished": 2})
    with count_round_trips(connection) as counted:
        activity = metrics.read_activity(connection, [queue.name], minutes=5, now=seconds)
    assert counted.value == 1
    last = activity[queue.name].history[-1]
    assert (last.finished, last.failed) == (4, 0)
    assert activity[queue.name].depth[-1] == (minute * 60, 7)
    stats = metrics.read_counters(connection, [queue.name])[queue.name][ADD]
    assert stats.counts["finished"] == 2 and stats.runs == 0
