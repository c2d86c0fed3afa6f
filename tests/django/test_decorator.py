"""@job: callable directly, .delay() and .enqueue(), queue options, unknown queue refused."""

from __future__ import annotations

import pytest

from django_jobqueue import Callback, Job, JobStatus, Retry, get_queue, get_worker, job
from tests.django import tasks_django as tasks


def test_the_function_stays_callable():
    assert tasks.add(2, 3) == 5


def test_delay_enqueues_on_its_queue_and_a_worker_runs_it():
    enqueued = tasks.add.delay(2, 3)
    assert enqueued.origin == "default" and enqueued.get_status() == JobStatus.QUEUED
    get_worker("default").work(burst=True)
    enqueued.refresh()
    assert enqueued.result == 5


def test_decorator_options_apply_and_keywords_reach_the_function():
    enqueued = tasks.tagged.delay("x", timeout=7)  # the function's own timeout argument
    assert enqueued.origin == "high"
    assert (enqueued.timeout, enqueued.result_ttl, enqueued.priority) == (30, 1000, 5)
    get_worker("high").work(burst=True)
    enqueued.refresh()
    assert enqueued.result == {"label": "x", "queue": "high", "timeout_argument": 7}


def test_enqueue_takes_reserved_keywords():
    first = tasks.add.enqueue(1, 1, job_id="first-one", priority=-3)
    assert (first.id, first.priority) == ("first-one", -3)
    later = tasks.add.enqueue(2, 2, depends_on=first)
    assert later.get_status() == JobStatus.DEFERRED


def test_an_unknown_queue_is_an_error_at_decoration():
    with pytest.raises(KeyError, match="Unknown queue 'nope'"):
        job("nope")(lambda: None)


def test_get_current_job_inside_a_task_and_none_outside():
    assert tasks.whoami() is None
    enqueued = get_queue().enqueue(tasks.whoami)
    get_worker().work(burst=True)
    enqueued.refresh()
    assert enqueued.result == enqueued.id


@pytest.mark.parametrize(("options", "message"), [
    ({"timout": 5}, "timout"),
    ({"connection": object()}, "JOBQUEUE"),
    ({"pipeline": object()}, "pipeline"),
])
def test_an_unknown_option_is_an_error_at_decoration(options, message):
    with pytest.raises(TypeError, match=message):
        job("default", **options)
    with pytest.raises(TypeError, match=message):
        job(**options)(lambda: None)


def test_a_retry_given_to_the_decorator_applies_to_delay_and_enqueue():
    expected = Retry(max=2, interval=45, on=(ConnectionError,))
    connection = get_queue().connection
    for enqueued in (tasks.flaky.delay("down"), tasks.flaky.enqueue("down")):
        assert Job.fetch(enqueued.id, connection=connection).retry_policy == expected
    own = tasks.flaky.enqueue("down", retry=Retry(max=1))
    assert own.retry_max == 1
    get_worker("default").work(burst=True)
    assert get_queue().scheduled_job_registry.count == 2  # each failed once, and waits 45 s
    own.refresh()
    assert (own.get_status(), own.attempts) == (JobStatus.FAILED, 2)  # its own Retry


def test_a_retry_that_is_not_a_retry_is_an_error_at_decoration():
    with pytest.raises(TypeError, match="retry"):
        job("default", retry=3)


def test_callbacks_given_to_the_decorator_reach_the_job():
    from tests.engine import jobs_callbacks as jc

    wrapped = job("default", on_stopped=jc.on_stopped_cb,
                  on_success=Callback(jc.on_success_cb, timeout=5))(tasks.add.__wrapped__)
    for enqueued in (wrapped.delay(1, 2), wrapped.enqueue(1, 2)):
        stored = Job.fetch(enqueued.id, connection=enqueued.connection)
        assert (stored.stopped_callback, stored.success_callback) == (
            jc.on_stopped_cb, jc.on_success_cb)
        assert stored.success_callback_timeout == 5
