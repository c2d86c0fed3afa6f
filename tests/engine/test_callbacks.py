"""Callbacks: on_stopped on an operator's stop, Callback timeouts enforced (on the main
thread, in a worker thread, inline, async), how callbacks are given and stored, and jobs
stored before on_stopped existed."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from django_jobqueue import Callback, Job, JobStatus, Queue, Worker
from django_jobqueue.engine import fields
from django_jobqueue.engine.callbacks import DEFAULT_CALLBACK_TIMEOUT
from django_jobqueue.engine.moves import stop_job
from django_jobqueue.engine.serializers import dumps_signed, loads_signed
from tests.engine import jobs_callbacks as jc
from tests.engine.jobs_faults import where
from tests.engine.jobs_worker import in_thread, make_worker
from tests.harness import wait_until

pytestmark = pytest.mark.timeout(60)

CB = "tests.engine.jobs_callbacks"


# --- on_stopped ----------------------------------------------------------------------------


def test_on_stopped_runs_once_when_an_operator_stops_a_job_in_a_worker_thread(connection):
    queue = Queue("cbstop", connection=connection)
    job = queue.enqueue(jc.busy, 30, job_timeout=60, on_stopped=jc.on_stopped_cb,
                        on_failure=jc.on_failure_cb, on_success=jc.on_success_cb)
    worker = Worker([queue], connection=connection, maintenance_interval=0.1)
    with in_thread(worker, burst=True):
        wait_until(lambda: connection.exists("jqtest:busy-started"), timeout=10)
        stop_job(connection, job.id)
        wait_until(lambda: job.get_status() == JobStatus.STOPPED, timeout=10)
    assert jc.calls(connection) == [
        {"kind": "stopped", "job_id": job.id, "current_job": job.id}]
    assert job.latest_result().type.name == "STOPPED"


def test_on_stopped_runs_in_a_worker_process_and_its_exception_changes_nothing(
        connection, fq, workers):
    workers.start("cb-stopper")
    job = fq.enqueue(jc.busy, 30, job_timeout=60, on_stopped=jc.on_stopped_raises)
    wait_until(lambda: connection.exists("jqtest:busy-started"), timeout=15,
               message=f"job never started\n{workers.logs()}")
    stop_job(connection, job.id)
    wait_until(lambda: where(connection, job.id) == ["failed"], timeout=10,
               message=f"job not stopped\n{workers.logs()}")
    job.refresh()
    assert job.get_status(refresh=False) == JobStatus.STOPPED
    assert "stopped by request" in job.exc_info
    assert "exploded" not in job.exc_info
    assert [c["kind"] for c in jc.calls(connection)] == ["stopped"]
    wait_until(lambda: "stopped callback exploded" in workers.logs(), timeout=10,
               message=workers.logs())


def test_on_stopped_does_not_run_on_success_or_failure(connection, queue):
    ok = queue.enqueue(jc.add, 1, 2, on_stopped=jc.on_stopped_cb)
    bad = queue.enqueue(jc.fail, "no", on_stopped=jc.on_stopped_cb,
                        on_failure=jc.on_failure_cb)
    make_worker([queue], connection).work(burst=True)
    assert (ok.get_status(), bad.get_status()) == (JobStatus.FINISHED, JobStatus.FAILED)
    assert [c["kind"] for c in jc.calls(connection)] == ["failure"]


def test_on_stopped_that_raises_in_a_worker_thread_is_logged(connection, caplog):
    queue = Queue("cbstop", connection=connection)
    job = queue.enqueue(jc.busy, 30, job_timeout=60, on_stopped=jc.on_stopped_raises)
    worker = Worker([queue], connection=connection, maintenance_interval=0.1)
    with caplog.at_level(logging.ERROR, logger="django_jobqueue.worker"), \
            in_thread(worker, burst=True):
        wait_until(lambda: connection.exists("jqtest:busy-started"), timeout=10)
        stop_job(connection, job.id)
        wait_until(lambda: job.get_status() == JobStatus.STOPPED, timeout=10)
    assert f"on_stopped callback {CB}.on_stopped_raises of job {job.id} raised" in caplog.text
    assert "stopped callback exploded" in caplog.text
    assert job.latest_result().type.name == "STOPPED"


# --- timeouts ------------------------------------------------------------------------------


def test_a_success_callback_over_its_timeout_fails_the_job(connection, queue):
    job = queue.enqueue(jc.add, 1, 2, on_success=Callback(jc.slow_success_cb, timeout=1))
    after = queue.enqueue(jc.add, 2, 2)
    make_worker([queue], connection).work(burst=True)  # this thread: SIGALRM
    job.refresh()
    assert job.get_status(refresh=False) == JobStatus.FAILED
    assert (f"on_success callback {CB}.slow_success_cb of job {job.id} exceeded its "
            f"timeout of 1 s") in job.exc_info
    assert "JobTimeoutException" in job.exc_info
    assert [c["kind"] for c in jc.calls(connection)] == ["success"]  # it was cut short
    assert after.result == 4


def test_a_success_callback_over_its_timeout_in_a_worker_thread(connection, queue):
    job = queue.enqueue(jc.add, 1, 2, on_success=Callback(jc.slow_success_cb, timeout=1))
    with in_thread(make_worker([queue], connection), burst=True):  # the watchdog thread
        wait_until(lambda: job.get_status() == JobStatus.FAILED, timeout=15)
    job.refresh()
    assert "exceeded its timeout of 1 s" in job.exc_info
    assert [c["kind"] for c in jc.calls(connection)] == ["success"]


def test_a_failure_callback_over_its_timeout_is_logged_and_the_job_stays_failed(
        connection, queue, caplog):
    job = queue.enqueue(jc.fail, "original error",
                        on_failure=Callback(f"{CB}.slow_failure_cb", timeout="1s"))
    with caplog.at_level(logging.ERROR, logger="django_jobqueue.worker"):
        make_worker([queue], connection).work(burst=True)
    job.refresh()
    assert job.get_status(refresh=False) == JobStatus.FAILED
    assert "original error" in job.exc_info
    assert "exceeded" not in job.exc_info
    assert (f"on_failure callback {CB}.slow_failure_cb of job {job.id} exceeded its timeout "
            f"of 1 s") in caplog.text
    assert [c["kind"] for c in jc.calls(connection)] == ["failure"]


def test_a_callback_timeout_holds_for_an_inline_job(connection):
    queue = Queue("cbinline", connection=connection, is_async=False)
    job = queue.enqueue(jc.add, 1, 2, on_success=Callback(jc.slow_success_cb, timeout=1))
    assert job.get_status() == JobStatus.FAILED
    assert "exceeded its timeout of 1 s" in job.exc_info


def test_async_callbacks_are_awaited_within_their_timeout(connection, queue):
    ok = queue.enqueue(jc.add, 1, 2, on_success=jc.async_success_cb)
    slow = queue.enqueue(jc.add, 1, 2, on_success=Callback(jc.slow_async_success_cb, 1))
    make_worker([queue], connection).work(burst=True)
    assert ok.get_status() == JobStatus.FINISHED
    slow.refresh()
    assert slow.get_status(refresh=False) == JobStatus.FAILED
    assert "exceeded its timeout of 1 s" in slow.exc_info
    assert jc.calls(connection) == [
        {"kind": "async success", "job_id": ok.id, "current_job": ok.id, "result": 3},
        {"kind": "async success", "job_id": slow.id, "current_job": slow.id},
    ]


def test_an_awaitable_a_sync_callback_returns_gets_only_what_is_left_of_its_timeout(
        connection, queue):
    job = queue.enqueue(jc.add, 1, 2,
                        on_success=Callback(jc.half_sync_half_async_success_cb, timeout=1))
    make_worker([queue], connection).work(burst=True)
    job.refresh()
    assert job.get_status(refresh=False) == JobStatus.FAILED
    assert "exceeded its timeout of 1 s" in job.exc_info
    assert [c["kind"] for c in jc.calls(connection)] == ["sync part"]


def test_the_default_callback_timeout_is_rqs(connection, queue):
    job = queue.enqueue(jc.add, 1, 2, on_success=jc.on_success_cb,
                        on_stopped=Callback(jc.on_stopped_cb, timeout=timedelta(minutes=2)))
    stored = Job.fetch(job.id, connection=connection)
    assert DEFAULT_CALLBACK_TIMEOUT == 60
    assert (stored.success_callback_timeout, stored.failure_callback_timeout,
            stored.stopped_callback_timeout) == (60, 60, 120)


@pytest.mark.parametrize("timeout", [0, -1, "0", "-5m", timedelta(0), 0.0, -0.5])
def test_a_timeout_that_is_not_positive_is_refused(timeout):
    with pytest.raises(ValueError, match="callback timeout must be a positive"):
        Callback(jc.on_success_cb, timeout=timeout)


@pytest.mark.parametrize("timeout", [True, "soon", [1]])
def test_a_timeout_that_is_not_a_duration_is_refused(timeout):
    with pytest.raises(ValueError, match="callback timeout"):
        Callback(jc.on_success_cb, timeout=timeout)


# --- how callbacks are given and stored ----------------------------------------------------


def test_callbacks_as_dotted_paths_functions_and_callbacks_everywhere(connection, queue):
    kinds = {"on_success": f"{CB}.on_success_cb", "on_failure": Callback(jc.on_failure_cb, 7),
             "on_stopped": jc.on_stopped_cb}
    jobs = [
        queue.enqueue(jc.add, 1, 2, **kinds),
        queue.enqueue_call(jc.add, args=(1, 2), **kinds),
        *queue.enqueue_many([Queue.prepare_data(jc.add, (1, 2), **kinds)]),
        queue.enqueue_job(Job.create(jc.add, args=(1, 2), connection=connection, **kinds)),
    ]
    for job in jobs:
        stored = Job.fetch(job.id, connection=connection)
        assert (stored.success_callback, stored.failure_callback, stored.stopped_callback) == (
            jc.on_success_cb, jc.on_failure_cb, jc.on_stopped_cb)
        assert stored.failure_callback_timeout == 7
    make_worker([queue], connection).work(burst=True)
    assert [c["kind"] for c in jc.calls(connection)] == ["success"] * 4


@pytest.mark.parametrize(("value", "message"), [
    ("nodots", "on_stopped='nodots' is not a dotted path"),
    (lambda job, connection: None, "use a module-level function"),
    (42, "on_stopped"),
])
def test_a_bad_on_stopped_is_refused_at_enqueue(queue, value, message):
    with pytest.raises(TypeError, match=message):
        queue.enqueue(jc.add, 1, 2, on_stopped=value)
    assert queue.count == 0


def test_a_job_without_on_stopped_or_timeouts_keeps_the_previous_call_data(connection, queue):
    job = queue.enqueue(jc.add, 1, 2, on_success=jc.on_success_cb)
    stored = loads_signed(job.serializer, connection.hget(job.key, "data"))
    assert tuple(stored) == (f"{CB}.add", None, (1, 2), {}, f"{CB}.on_success_cb", None)


def test_a_job_stored_by_the_previous_version_still_runs_its_callbacks(connection, queue):
    job = queue.enqueue(jc.add, 1, 2)
    old_call = (f"{CB}.add", None, (1, 2), {}, f"{CB}.on_success_cb", f"{CB}.on_failure_cb")
    connection.hset(job.key, "data", dumps_signed(job.serializer, old_call))
    assert "data" in fields.JOB_FIELDS
    stored = Job.fetch(job.id, connection=connection)
    assert stored.stopped_callback is None
    assert stored.success_callback_timeout == DEFAULT_CALLBACK_TIMEOUT
    make_worker([queue], connection).work(burst=True)
    assert job.get_status() == JobStatus.FINISHED
    assert jc.calls(connection) == [
        {"kind": "success", "job_id": job.id, "current_job": job.id, "result": 3}]


def test_a_periodic_job_takes_on_stopped():
    from django_jobqueue.engine.periodic import PeriodicJob

    spec = PeriodicJob("cb-every", jc.add, args=(1, 2), every=30,
                       on_stopped=Callback(jc.on_stopped_cb, timeout=5))
    assert spec.options["on_stopped"] == Callback(f"{CB}.on_stopped_cb", timeout=5)
    with pytest.raises(TypeError, match="periodic job 'cb-nope': on_stopped='x'"):
        PeriodicJob("cb-nope", jc.add, every=30, on_stopped="x")
