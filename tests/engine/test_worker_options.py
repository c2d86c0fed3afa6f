"""Keyword arguments: a typo raises TypeError (it used to pass silently), the RQ keywords
we deliberately ignore are accepted, and the RQ ones we honour do what RQ's do."""

from __future__ import annotations

import pytest

from django_jobqueue import (
    FailedJobRegistry,
    Job,
    JobStatus,
    Queue,
    StartedJobRegistry,
    Worker,
)
from django_jobqueue.engine import queue as queue_module
from django_jobqueue.engine import registry as registry_module
from django_jobqueue.engine.worker import loop
from tests.engine import jobs_worker as jobs


def test_a_typo_in_a_keyword_raises(connection):
    queue = Queue("o", connection=connection)
    with pytest.raises(TypeError, match="conection"):
        Worker([queue], conection=connection)
    with pytest.raises(TypeError, match="defualt_timeout"):
        Queue("o", connection=connection, defualt_timeout=3)
    with pytest.raises(TypeError, match="bursty"):
        Worker([queue], connection=connection).work(bursty=True)
    with pytest.raises(TypeError, match="serialiser"):
        FailedJobRegistry("o", connection=connection, serialiser="json")


def test_rq_keywords_we_ignore_are_accepted(connection):
    queue = Queue("o", connection=connection, **dict.fromkeys(queue_module.RQ_IGNORED))
    worker = Worker([queue], connection=connection, **dict.fromkeys(loop.RQ_IGNORED))
    StartedJobRegistry("o", connection=connection, **dict.fromkeys(registry_module.RQ_IGNORED))
    assert worker.work(burst=True, logging_level="DEBUG", date_format="%H", log_format="%s",
                       with_scheduler=True) is False
    assert "death_penalty_class" in loop.RQ_IGNORED  # the lists name RQ's keywords


def test_only_the_default_dequeue_strategy(connection):
    worker = Worker([Queue("o", connection=connection)], connection=connection)
    assert worker.work(burst=True, dequeue_strategy="default") is False
    with pytest.raises(ValueError, match="strict priority"):
        worker.work(burst=True, dequeue_strategy="round_robin")


class CountingJob(Job):
    made = 0

    @classmethod
    def from_fields(cls, *args, **kwargs):
        CountingJob.made += 1
        return super().from_fields(*args, **kwargs)


def test_job_class_is_used_by_the_worker_and_the_registries(connection):
    queue = Queue("o", connection=connection, job_class=CountingJob)
    job = queue.enqueue(jobs.add, 1, 2)
    Worker([queue], connection=connection).work(burst=True)
    assert CountingJob.made >= 1
    assert all(isinstance(j, CountingJob) for j in queue.finished_job_registry.get_jobs())
    assert job.get_status() == JobStatus.FINISHED


def test_exception_handlers_run_in_order_until_one_returns_false(connection):
    seen = []

    def first(job, exc_type, exc_value, traceback):
        seen.append(("first", job.id, exc_type.__name__, str(exc_value)))

    def second(job, *exc):
        seen.append(("second", job.id))
        return False

    def third(job, *exc):  # never called: the one before returned False
        seen.append(("third", job.id))

    queue = Queue("o", connection=connection)
    job = queue.enqueue(jobs.raise_error, "bad")
    ok = queue.enqueue(jobs.add, 1, 1)
    Worker([queue], connection=connection, exception_handlers=[first, second, third]).work(
        burst=True)
    assert seen == [("first", job.id, "ValueError", "bad"), ("second", job.id)]
    assert job.get_status() == JobStatus.FAILED and ok.get_status() == JobStatus.FINISHED


def test_a_raising_exception_handler_does_not_stop_the_worker(connection):
    def broken(job, *exc):
        raise RuntimeError("handler bug")

    queue = Queue("o", connection=connection)
    failing = queue.enqueue(jobs.raise_error)
    after = queue.enqueue(jobs.add, 2, 2)
    Worker([queue], connection=connection, exception_handlers=[broken]).work(burst=True)
    assert failing.get_status() == JobStatus.FAILED and after.result == 4


def test_max_idle_time_ends_an_idle_worker(connection):
    queue = Queue("o", connection=connection)
    queue.enqueue(jobs.add, 1, 1)
    worker = Worker([queue], connection=connection, wait_timeout=0.1)
    assert worker.work(max_idle_time=0.3) is True  # not burst: it waited, then left
    assert worker.successful_job_count == 1
    assert worker.state == "stopped"
