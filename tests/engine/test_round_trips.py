"""Round trips: what each operation costs on the wire (client side and server side).

Counts, not timings: a round trip is a request the client writes (a pipeline is one).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from django_jobqueue import Queue, Worker, get_failed_queue
from django_jobqueue.engine import keys, serializers
from tests.engine import jobs_queue as jq
from tests.harness import wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def warm_up(connection):
    """Load the Lua scripts once, so a measurement never includes a SCRIPT LOAD."""
    warm = Queue("warm-up", connection=connection)
    warm.enqueue(jq.noop)
    Worker([warm], connection=connection).work(burst=True)
    warm.delete()
    connection.flushdb()


def test_enqueue_is_one_round_trip(queue, connection, count_round_trips):
    warm_up(connection)
    with count_round_trips(connection) as trips:
        queue.enqueue(jq.add, 1, 2, job_id="one", meta={"m": 1}, priority=3)
    assert trips.value == 1
    assert queue.job_ids == ["one"]


def test_enqueue_with_options_is_one_round_trip(queue, connection, count_round_trips):
    warm_up(connection)
    parent = queue.enqueue(jq.noop)
    with count_round_trips(connection) as trips:
        job = queue.enqueue(jq.noop, depends_on=parent, result_ttl=5, ttl=60, description="d")
    assert trips.value == 1
    assert job.id in queue.deferred_job_registry


def test_enqueue_many_1200_is_one_round_trip(queue, connection, count_round_trips):
    warm_up(connection)
    datas = [Queue.prepare_data(jq.add, (i, 1)) for i in range(1200)]
    with count_round_trips(connection) as trips:
        jobs = queue.enqueue_many(datas)
    assert trips.value == 1
    assert len(jobs) == 1200 and queue.count == 1200
    assert queue.get_job_ids(0, 2) == [jobs[0].id, jobs[1].id]


def test_busy_burst_worker_costs_at_most_three_round_trips_per_job(queue, connection,
                                                                   count_round_trips):
    warm_up(connection)
    n = 200
    queue.enqueue_many([Queue.prepare_data(jq.add, (i, i)) for i in range(n)])
    worker = Worker([queue], connection=connection)
    with count_round_trips(connection) as trips:  # includes the maintenance thread
        worker.work(burst=True)
    assert queue.finished_job_registry.count == n
    assert worker.successful_job_count == n
    assert trips.value / n <= 3, f"{trips.value} round trips for {n} jobs"


def test_failed_jobs_cost_no_more_than_finished_ones(queue, connection, count_round_trips):
    warm_up(connection)
    n = 200
    queue.enqueue_many([Queue.prepare_data(jq.fail) for _ in range(n)])
    worker = Worker([queue], connection=connection)
    with count_round_trips(connection) as trips:
        worker.work(burst=True)
    assert queue.failed_job_registry.count == n
    assert trips.value / n <= 3, f"{trips.value} round trips for {n} jobs"


def test_worker_subprocess_server_side_reads_per_job(queue, connection, redis_url):
    n = 500
    queue.enqueue_many([Queue.prepare_data(jq.noop) for _ in range(n)])
    env = dict(os.environ)
    env["JOBQUEUE_SIGNING_KEY"] = serializers._signing_key.decode()
    env["JOBQUEUE_KEY_PREFIX"] = keys.prefix()
    before = connection.info("stats")["total_reads_processed"]
    proc = subprocess.run(
        [sys.executable, "-m", "django_jobqueue.engine", "worker", "default",
         "--url", redis_url, "--burst", "--log-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    after = connection.info("stats")["total_reads_processed"]
    assert proc.returncode == 0, proc.stderr
    assert queue.count == 0
    assert queue.finished_job_registry.count == n
    reads = after - before - 1  # the second INFO is one read itself
    assert reads / n <= 3, f"{reads} reads processed by the server for {n} jobs"


def test_failed_queue_count_is_constant_in_the_number_of_queues(connection,
                                                                count_round_trips):
    def trips_for_count():
        with count_round_trips(connection) as trips:
            count = get_failed_queue(connection=connection).count
        return trips.value, count

    Queue("q0", connection=connection).enqueue(jq.fail)
    Worker(["q0"], connection=connection).work(burst=True)
    one_queue = trips_for_count()
    names = [f"q{i}" for i in range(1, 30)]
    for name in names:
        Queue(name, connection=connection).enqueue(jq.fail)
    Worker(names, connection=connection).work(burst=True)
    many_queues = trips_for_count()
    assert one_queue[1] == 1 and many_queues[1] == 30
    assert many_queues[0] == one_queue[0] <= 2


def test_registry_count_and_listing_are_one_round_trip(queue, connection, count_round_trips):
    queue.enqueue_many([Queue.prepare_data(jq.noop) for _ in range(50)])
    with count_round_trips(connection) as trips:
        assert queue.count == 50
    assert trips.value == 1
    with count_round_trips(connection) as trips:
        assert len(queue.jobs) == 50  # ids, then all hashes in one pipeline
    assert trips.value == 2


def _commands_since_reset(connection) -> dict[str, int]:
    stats = connection.info("commandstats")
    ignored = ("cmdstat_info", "cmdstat_config|resetstat", "cmdstat_config",
               "cmdstat_client|list", "cmdstat_client")
    return {name: value["calls"] for name, value in stats.items() if name not in ignored}


def _blocked_in_blpop(connection) -> bool:
    return any(c.get("cmd") == "blpop" for c in connection.client_list())


@pytest.mark.timeout(60)
def test_idle_worker_blocks_instead_of_polling(queue, connection, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    worker = Worker([Queue("default", connection=client)], connection=client,
                    wait_timeout=5, maintenance_interval=1.0)
    thread = threading.Thread(target=worker.work, daemon=True)
    thread.start()
    try:
        wait_until(lambda: _blocked_in_blpop(connection), message="worker never blocked")
        connection.config_resetstat()
        start = time.monotonic()
        wait_until(lambda: time.monotonic() - start >= 1.5, timeout=5)  # ~1.5 s of idle time
        calls = _commands_since_reset(connection)
        assert sum(calls.values()) < 20, calls
        assert _blocked_in_blpop(connection)
        # still responsive: a new job wakes it through the notify list
        job = queue.enqueue(jq.add, 2, 3)
        wait_until(lambda: job.is_finished, timeout=10)
        assert job.result == 5
    finally:
        worker.request_stop()
        connection.rpush(keys.notify("default"), "1")  # wake it from its 5 s wait
        thread.join(timeout=15)
        client.close()
    assert not thread.is_alive()
