"""``manage.py jobqueue``: stats (text and JSON), requeue (ids, --all, --queue), empty,
suspend/resume (seen by a worker), enqueue (JSON arguments); errors are CommandErrors."""

from __future__ import annotations

import json
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_jobqueue import JobStatus, get_queue, get_worker
from django_jobqueue.engine import keys, suspension
from tests.harness import free_port, wait_until


def jobqueue(*args: str) -> str:
    out = StringIO()
    call_command("jobqueue", *args, stdout=out)
    return out.getvalue()


def fail_some_jobs(queue_name: str, count: int) -> list[str]:
    queue = get_queue(queue_name)
    ids = [queue.enqueue("os.nosuch").id for _ in range(count)]
    get_worker(queue_name).work(burst=True)
    assert queue.failed_job_registry.count == count
    return ids


def test_stats_counts_every_place_and_workers():
    fail_some_jobs("default", 1)
    get_queue().enqueue("os.getpid")
    get_queue("high").enqueue("os.getpid", job_id="held")
    get_queue("high").enqueue("os.getpid", depends_on="held")
    from datetime import timedelta

    get_queue("low").enqueue_in(timedelta(hours=1), "os.getpid")
    stats = json.loads(jobqueue("stats", "--json"))
    assert set(stats) == {"default", "high", "low"}
    assert stats["default"] == {"queued": 1, "started": 0, "finished": 0, "failed": 1,
                                "deferred": 0, "scheduled": 0, "canceled": 0, "workers": 0}
    assert (stats["high"]["queued"], stats["high"]["deferred"]) == (1, 1)
    assert stats["low"]["scheduled"] == 1

    text = jobqueue("stats").splitlines()
    assert text[0].split() == ["queue", "queued", "started", "finished", "failed", "deferred",
                               "scheduled", "canceled", "workers"]
    assert text[1].split() == ["default", "1", "0", "0", "1", "0", "0", "0", "0"]


def test_stats_counts_a_live_worker():
    worker = get_worker("low")
    thread = threading.Thread(target=worker.work)
    thread.start()
    try:
        wait_until(lambda: json.loads(jobqueue("stats", "--json"))["low"]["workers"] == 1)
        assert json.loads(jobqueue("stats", "--json"))["default"]["workers"] == 0
    finally:
        worker.request_stop()
        get_queue("low").enqueue("os.getpid")  # wakes its blocking wait
        thread.join(30)
    assert not thread.is_alive()


def test_requeue_by_id_all_and_per_queue():
    first, second, third = fail_some_jobs("default", 3)
    high = fail_some_jobs("high", 2)
    assert jobqueue("requeue", first).strip() == "Requeued 1 job(s)"  # its origin, found
    assert get_queue().job_ids == [first]
    assert jobqueue("requeue", "--queue", "default", second).strip() == "Requeued 1 job(s)"
    assert jobqueue("requeue", "--all", "--queue", "high").strip() == "Requeued 2 job(s)"
    assert sorted(get_queue("high").job_ids) == sorted(high)
    assert get_queue().failed_job_registry.get_job_ids() == [third]
    assert jobqueue("requeue", "--all").strip() == "Requeued 1 job(s)"
    assert get_queue().count == 3


def test_requeue_errors():
    with pytest.raises(CommandError, match="either --all or"):
        jobqueue("requeue")
    with pytest.raises(CommandError, match="either --all or"):
        jobqueue("requeue", "--all", "some-id")
    queued = get_queue().enqueue("os.getpid")
    with pytest.raises(CommandError, match="Not requeued: no-such-id: .*"):
        jobqueue("requeue", "no-such-id")
    with pytest.raises(CommandError, match=f"Not requeued: {queued.id}"):
        jobqueue("requeue", queued.id)  # not failed
    assert queued.get_status() == JobStatus.QUEUED


def test_empty_a_queue():
    for _ in range(3):
        get_queue("low").enqueue("os.getpid")
    kept = get_queue("high").enqueue("os.getpid")
    assert jobqueue("empty", "low").strip() == "Removed 3 job(s) from low"
    assert get_queue("low").count == 0 and get_queue("high").job_ids == [kept.id]
    with pytest.raises(CommandError, match="Unknown queue 'nosuch'"):
        jobqueue("empty", "nosuch")


def test_suspend_and_resume_reach_workers():
    connection = get_queue().connection
    assert "until resumed" in jobqueue("suspend")
    assert suspension.is_suspended(connection)
    job = get_queue().enqueue("os.getpid")
    assert get_worker().work(burst=True) is False  # a suspended burst worker takes nothing
    assert job.get_status() == JobStatus.QUEUED
    assert "resumed" in jobqueue("resume")
    assert not suspension.is_suspended(connection)
    assert get_worker().work(burst=True) is True
    assert job.get_status() == JobStatus.FINISHED

    assert "for 30 s" in jobqueue("suspend", "--duration", "30")
    assert 0 < connection.pttl(keys.suspended()) <= 30_000


def test_enqueue_with_json_and_string_arguments():
    job_id = jobqueue("enqueue", "os.path.join", "a", '"b"', "--queue", "high").strip()
    job = get_queue("high").fetch_job(job_id)
    assert job.func_name == "os.path.join" and job.args == ("a", "b")
    number_id = jobqueue("enqueue", "operator.add", "1", "2.5").strip()
    get_worker().work(burst=True)
    assert get_queue().fetch_job(number_id).result == 3.5
    list_id = jobqueue("enqueue", "builtins.len", "[1, 2, 3]").strip()
    get_worker().work(burst=True)
    assert get_queue().fetch_job(list_id).result == 3
    with pytest.raises(CommandError, match="Cannot import os.nosuch"):
        jobqueue("enqueue", "os.nosuch")


def test_unreachable_redis_is_one_clear_error(redis_url):
    from django.test.utils import override_settings

    from tests.django.conftest import jobqueue_settings

    url = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(JOBQUEUE=jobqueue_settings(url)):
        with pytest.raises(CommandError, match=f"Cannot reach Redis at {url}: "):
            jobqueue("stats")


def test_stats_costs_a_fixed_number_of_round_trips_however_many_queues(redis_url,
                                                                        count_round_trips):
    """A PING per connection (to name an unreachable one), then one read per Redis server."""
    from django.test.utils import override_settings

    from django_jobqueue.integration.clients import get_client
    from tests.django.conftest import jobqueue_settings

    costs = []
    for count in (3, 30):
        queues = {f"of{count}-{i}": {} for i in range(count)}
        with override_settings(JOBQUEUE=jobqueue_settings(redis_url, QUEUES=queues)):
            get_queue(f"of{count}-1").enqueue("os.getpid")
            with count_round_trips(get_client()) as counter:
                stats = json.loads(jobqueue("stats", "--json"))
            costs.append(counter.value)
        assert len(stats) == count and stats[f"of{count}-1"]["queued"] == 1
    assert costs == [2, 2]
