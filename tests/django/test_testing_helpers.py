"""django_jobqueue.testing: drain() runs queued jobs in the test process and counts them;
inline_queues() makes every enqueue run its job at once."""

from __future__ import annotations

from django.test.utils import override_settings

from django_jobqueue import JobStatus, get_queue, signals
from django_jobqueue.testing import drain, inline_queues
from tests.django import tasks_django as tasks
from tests.django.conftest import jobqueue_settings


def enqueue_a_follow_up():
    get_queue("low").enqueue("operator.add", 10, 1)
    return "enqueued"


def test_drain_runs_every_configured_queue_and_counts():
    added = tasks.add.delay(1, 2)
    tagged = tasks.tagged.delay("x")
    failing = get_queue("low").enqueue("os.nosuch")
    follow_up = get_queue("low").enqueue(enqueue_a_follow_up)
    assert drain() == 5  # the follow-up job enqueued by a job is run too
    added.refresh()
    tagged.refresh()
    assert added.result == 3 and tagged.result["queue"] == "high"
    assert failing.get_status() == JobStatus.FAILED
    assert follow_up.get_status() == JobStatus.FINISHED
    assert get_queue("low").finished_job_registry.count == 2
    assert drain() == 0


def test_drain_only_the_named_queues_through_a_django_worker():
    started = []

    def on_started(sender, job, **kwargs):
        started.append(job.id)

    signals.job_started.connect(on_started)
    try:
        high = get_queue("high").enqueue("os.getpid")
        low = get_queue("low").enqueue("os.getpid")
        assert drain(["high"]) == 1
    finally:
        signals.job_started.disconnect(on_started)
    assert started == [high.id]
    assert low.get_status() == JobStatus.QUEUED


def test_drain_serves_queues_of_several_connections(redis_url):
    value = jobqueue_settings(redis_url)
    value["CONNECTIONS"]["other"] = {"URL": redis_url.rsplit("/", 1)[0] + "/1"}
    value["QUEUES"]["elsewhere"] = {"CONNECTION": "other"}
    with override_settings(JOBQUEUE=value):
        here = get_queue("default").enqueue("operator.add", 1, 1)
        there = get_queue("elsewhere").enqueue("operator.add", 2, 2)
        assert drain() == 2
        assert here.get_status() == there.get_status() == JobStatus.FINISHED


def test_inline_queues_run_at_enqueue_then_stop():
    with inline_queues():
        assert not get_queue("high").is_async
        job = tasks.add.delay(2, 3)
        assert job.get_status() == JobStatus.FINISHED and job.result == 5
        assert tasks.tagged.delay("y").result == {"label": "y", "queue": "high",
                                                  "timeout_argument": None}
    assert get_queue("high").is_async
    later = tasks.add.delay(1, 1)
    assert later.get_status() == JobStatus.QUEUED


@inline_queues()
def test_inline_queues_as_a_decorator():
    failing = get_queue().enqueue("os.nosuch")
    assert failing.get_status() == JobStatus.FAILED
