"""The Django tasks backend (Django 6.0+): enqueue, results, errors, priorities, run_after,
async tasks, signals, commit mode, and no Redis I/O when Django builds the backend."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis

pytest.importorskip("django.tasks", reason="django.tasks needs Django 6.0+ (this is 5.2)")

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.db import transaction  # noqa: E402
from django.tasks import TaskResultStatus, task_backends  # noqa: E402
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist  # noqa: E402
from django.tasks.signals import task_enqueued, task_finished, task_started  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from django_jobqueue import JobStatus, get_queue, get_worker  # noqa: E402
from django_jobqueue.tasks import JobQueueBackend  # noqa: E402
from tests.django import tasks_backend_jobs as jobs  # noqa: E402
from tests.django.conftest import jobqueue_settings  # noqa: E402
from tests.harness import wait_until  # noqa: E402

BACKEND = "django_jobqueue.tasks.JobQueueBackend"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def tasks_setting(django_jobqueue: None) -> Iterator[None]:
    with override_settings(TASKS={"default": {"BACKEND": BACKEND,
                                              "QUEUES": ["default", "high"]}}):
        yield


def run_burst(*queues: str) -> None:
    get_worker(*(queues or ("default",))).work(burst=True)


def test_backend_features_and_class():
    backend = task_backends["default"]
    assert isinstance(backend, JobQueueBackend)
    assert (backend.supports_defer, backend.supports_async_task, backend.supports_get_result,
            backend.supports_priority) == (True, True, True, True)


def test_enqueue_then_a_worker_runs_it_and_get_result_shows_the_value():
    result = jobs.add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY and result.enqueued_at is not None
    job = get_queue("default").fetch_job(result.id)
    assert job.func_name == "django_jobqueue.tasks.run_task"
    assert jobs.add.get_result(result.id).status == TaskResultStatus.READY
    run_burst()
    done = jobs.add.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == 5
    assert (done.args, done.kwargs) == ([2, 3], {})
    assert done.attempts == 1 and len(done.worker_ids) == 1 and done.errors == []
    assert done.enqueued_at <= done.started_at <= done.finished_at
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 5


def test_a_failing_task_is_failed_with_its_class_path_and_traceback():
    result = jobs.boom.enqueue("bad thing")
    run_burst()
    failed = jobs.boom.get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.attempts == 1
    [error] = failed.errors
    assert error.exception_class_path == "tests.django.tasks_backend_jobs.TaskBoom"
    assert error.exception_class is jobs.TaskBoom
    assert "Traceback" in error.traceback and "bad thing" in error.traceback
    with pytest.raises(ValueError, match="Task failed"):
        _ = failed.return_value


def test_priority_orders_the_queue():
    connection = get_queue().connection
    for label, priority in [("low", -50), ("top", 100), ("mid", 0), ("bottom", -100)]:
        jobs.record.using(priority=priority).enqueue(label)
    run_burst()
    assert [v.decode() for v in connection.lrange(jobs.ORDER_KEY, 0, -1)] == [
        "top", "mid", "low", "bottom"]


def test_the_queue_name_picks_the_jobqueue_queue():
    result = jobs.add.using(queue_name="high").enqueue(1, 1)
    assert get_queue("high").job_ids == [result.id]
    run_burst("high")
    assert jobs.add.get_result(result.id).return_value == 2


def test_a_queue_outside_the_backend_or_jobqueue_is_refused():
    with pytest.raises(InvalidTask, match="'low' is not valid"):
        jobs.add.using(queue_name="low")
    with override_settings(TASKS={"default": {"BACKEND": BACKEND, "QUEUES": ["nowhere"]}}):
        with pytest.raises(InvalidTask, match="not a JOBQUEUE queue"):
            jobs.add.using(queue_name="nowhere")
        [error] = task_backends["default"].check()
        assert error.id == "django_jobqueue.E101"


@pytest.mark.parametrize("delay", ["datetime", "timedelta"])
def test_run_after_schedules_and_a_worker_runs_it_once_due(delay):
    when = timedelta(seconds=1)
    run_after = when if delay == "timedelta" else timezone.now() + when
    result = jobs.add.using(run_after=run_after).enqueue(4, 4)
    assert result.task.run_after > timezone.now()  # absolute, also for a timedelta
    job = get_queue().fetch_job(result.id)
    assert job.get_status() == JobStatus.SCHEDULED
    assert jobs.add.get_result(result.id).status == TaskResultStatus.READY
    worker = get_worker("default", maintenance_interval=0.1)
    thread = threading.Thread(target=worker.work, daemon=True)
    thread.start()
    try:
        done = wait_until(lambda: (r := jobs.add.get_result(result.id)).is_finished and r,
                          timeout=15, message="the scheduled task never ran")
    finally:
        worker.request_stop()
        thread.join(timeout=15)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 8
    assert done.started_at >= result.task.run_after


def test_an_async_task_runs_on_the_worker():
    result = jobs.async_double.enqueue(21)
    run_burst()
    done = jobs.async_double.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == {"double": 42, "job": result.id}


def test_while_it_runs_get_result_shows_running_with_its_worker():
    result = jobs.own_status.enqueue()
    worker = get_worker("default")
    worker.work(burst=True)
    seen = jobs.own_status.get_result(result.id).return_value
    assert seen == {"status": "RUNNING", "worker_ids": [worker.name], "started": True}


def test_a_task_taking_context_sees_its_result_and_attempt():
    result = jobs.with_context.enqueue("v")
    run_burst()
    assert jobs.with_context.get_result(result.id).return_value == {
        "attempt": 1, "id": result.id, "value": "v"}


def test_signals_are_sent_with_the_task_result():
    seen = []

    def on_signal(signal_name):
        def receiver(sender, task_result, **kwargs):
            seen.append((signal_name, sender, task_result.id, task_result.status))
        return receiver

    receivers = {name: on_signal(name) for name in ("enqueued", "started", "finished")}
    task_enqueued.connect(receivers["enqueued"])
    task_started.connect(receivers["started"])
    task_finished.connect(receivers["finished"])
    try:
        ok = jobs.add.enqueue(1, 2)
        bad = jobs.boom.enqueue("x")
        run_burst()
    finally:
        task_enqueued.disconnect(receivers["enqueued"])
        task_started.disconnect(receivers["started"])
        task_finished.disconnect(receivers["finished"])
    assert seen == [
        ("enqueued", JobQueueBackend, ok.id, TaskResultStatus.READY),
        ("enqueued", JobQueueBackend, bad.id, TaskResultStatus.READY),
        ("started", JobQueueBackend, ok.id, TaskResultStatus.RUNNING),
        ("finished", JobQueueBackend, ok.id, TaskResultStatus.SUCCESSFUL),
        ("started", JobQueueBackend, bad.id, TaskResultStatus.RUNNING),
        ("finished", JobQueueBackend, bad.id, TaskResultStatus.FAILED),
    ]


def test_the_retry_option_retries_every_task_and_finishes_it_once():
    finished = []

    def receiver(sender, task_result, **kwargs):
        finished.append(task_result.status)

    retrying = {"default": {"BACKEND": BACKEND, "QUEUES": ["default"],
                            "OPTIONS": {"RETRY": {"MAX": 2, "ON": [
                                "tests.django.tasks_backend_jobs.TaskBoom"]}}}}
    with override_settings(TASKS=retrying):
        result = jobs.boom.enqueue("again")
        job = get_queue("default").fetch_job(result.id)
        assert (job.retry_max, job.retry_on) == (2, ["tests.django.tasks_backend_jobs.TaskBoom"])
        task_finished.connect(receiver)
        try:
            run_burst()
        finally:
            task_finished.disconnect(receiver)
        failed = jobs.boom.get_result(result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.attempts == 3 and len(failed.errors) == 3
    assert finished == [TaskResultStatus.FAILED]  # once: the retried attempts did not finish


def test_a_bad_retry_option_is_check_e103_and_refuses_to_enqueue():
    bad = {"default": {"BACKEND": BACKEND, "QUEUES": ["default"],
                       "OPTIONS": {"RETRY": {"MAX": 0}}}}
    with override_settings(TASKS=bad):
        backend = task_backends["default"]
        assert [m.id for m in backend.check()] == ["django_jobqueue.E103"]
        with pytest.raises(ImproperlyConfigured, match="E103"):
            jobs.add.enqueue(1, 2)


def test_inside_atomic_the_enqueue_and_its_signal_wait_for_the_commit():
    seen = []

    def receiver(sender, task_result, **kwargs):
        seen.append(task_result.id)

    task_enqueued.connect(receiver)
    try:
        with transaction.atomic():
            result = jobs.add.enqueue(1, 1)
            assert result.id and seen == []
            assert get_queue().count == 0
        assert seen == [result.id]
        assert get_queue().job_ids == [result.id]
        with pytest.raises(RuntimeError), transaction.atomic():
            jobs.add.enqueue(2, 2)
            raise RuntimeError("roll back")
        assert seen == [result.id] and get_queue().count == 1
    finally:
        task_enqueued.disconnect(receiver)


def test_an_unknown_id_raises_task_result_does_not_exist():
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result("no-such-task")
    plain = get_queue().enqueue("os.getpid")  # a job that is not a task is not a result
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(plain.id)


def test_building_the_backend_and_validating_tasks_does_no_redis_io():
    closed = jobqueue_settings("redis://127.0.0.1:1/0")
    with override_settings(JOBQUEUE=closed,
                           TASKS={"default": {"BACKEND": BACKEND, "QUEUES": ["default"]}}):
        backend = task_backends["default"]
        assert isinstance(backend, JobQueueBackend)
        backend.validate_task(jobs.add)
        assert backend.check() == []
        task = jobs.add.using(priority=7, run_after=timedelta(minutes=5))
        assert task.priority == 7  # validated against the backend, still no Redis
        with pytest.raises(redis.ConnectionError):  # any Redis I/O above would have failed
            get_queue().connection.ping()


def test_manage_py_runworker_runs_tasks_with_no_extra_flag(redis_url, tmp_path):
    (tmp_path / "tasks_settings.py").write_text(
        "from tests.django.settings import *  # noqa: F403\n"
        f"TASKS = {{'default': {{'BACKEND': {BACKEND!r}, 'QUEUES': ['default']}}}}\n"
    )
    ok, bad = jobs.add.enqueue(20, 22), jobs.boom.enqueue("in a subprocess")
    env = {**os.environ, "JOBQUEUE_URL": redis_url, "DJANGO_SETTINGS_MODULE": "tasks_settings",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "django", "runworker", "--burst"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    done, failed = jobs.add.get_result(ok.id), jobs.boom.get_result(bad.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 42
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[0].exception_class_path == "tests.django.tasks_backend_jobs.TaskBoom"
    assert done.worker_ids == failed.worker_ids and len(done.worker_ids) == 1
