"""COMMIT_MODE: enqueues inside atomic() wait for the commit and are dropped on rollback
(SQLite, and PostgreSQL when JOBQUEUE_TEST_DATABASE_URL is set); "immediate" does not wait."""

from __future__ import annotations

import os

import pytest
from django.db import transaction
from django.test.utils import override_settings

from django_jobqueue import JobStatus, SerializationError, get_queue
from tests.django import tasks_django as tasks
from tests.django.conftest import jobqueue_settings

ALIASES = ["default"] + (["pg"] if os.environ.get("JOBQUEUE_TEST_DATABASE_URL") else [])


@pytest.mark.parametrize("alias", ALIASES)
def test_enqueue_in_atomic_waits_for_the_commit(alias):
    queue = get_queue()
    with transaction.atomic(using=alias):
        enqueued = tasks.add.delay(1, 2)
        assert enqueued.id  # the final id, at once
        assert queue.count == 0  # nothing visible to workers before the commit
    assert queue.job_ids == [enqueued.id]
    assert enqueued.get_status() == JobStatus.QUEUED


@pytest.mark.parametrize("alias", ALIASES)
def test_rollback_drops_the_enqueue(alias):
    queue = get_queue()
    with pytest.raises(RuntimeError), transaction.atomic(using=alias):
        tasks.add.delay(1, 2)
        queue.enqueue_many([queue.prepare_data("os.getpid") for _ in range(3)])
        raise RuntimeError("roll back")
    assert queue.count == 0
    assert queue.connection.dbsize() == 0


@pytest.mark.parametrize("alias", ALIASES)
def test_every_enqueue_path_waits(alias):
    from datetime import timedelta

    queue = get_queue()
    with transaction.atomic(using=alias):
        queue.enqueue("os.getpid")
        queue.enqueue_in(timedelta(hours=1), "os.getpid")
        queue.enqueue_many([queue.prepare_data("os.getpid") for _ in range(2)])
        tasks.add.enqueue(1, 1)
        assert queue.connection.dbsize() == 0
    assert queue.count == 4 and queue.scheduled_job_registry.count == 1


def test_bad_arguments_fail_at_the_call_not_at_the_commit():
    import threading

    with transaction.atomic():
        with pytest.raises(SerializationError, match="argument 0"):
            tasks.add.delay(threading.Lock(), 1)


def test_immediate_mode_enqueues_inside_the_transaction(redis_url):
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url, COMMIT_MODE="immediate")):
        queue = get_queue()
        with transaction.atomic():
            tasks.add.delay(1, 2)
            assert queue.count == 1


@pytest.mark.parametrize("alias", ALIASES)
def test_a_waiting_enqueue_serializes_the_job_once_at_the_call(redis_url, alias):
    """The call is checked by serializing it, and the commit sends those same bytes: one
    ``dumps`` per job, as outside a transaction, and changes made to an argument after the
    call do not reach the job (as outside a transaction)."""
    from tests.django.counting_serializer import CountingSerializer

    config = jobqueue_settings(redis_url, QUEUES={
        "default": {"SERIALIZER": "tests.django.counting_serializer.CountingSerializer"}})
    with override_settings(JOBQUEUE=config):
        queue = get_queue()
        CountingSerializer.dumps_calls = 0
        queue.enqueue("builtins.len", [0])
        assert CountingSerializer.dumps_calls == 1  # outside a transaction
        items = [1]
        with transaction.atomic(using=alias):
            waiting = queue.enqueue("builtins.len", items)
            many = queue.enqueue_many([queue.prepare_data("builtins.len", ([2, 3],))
                                       for _ in range(2)])
            assert CountingSerializer.dumps_calls == 4
            items.append(2)
        assert CountingSerializer.dumps_calls == 4  # the commit serialized nothing again
        assert queue.fetch_job(waiting.id).args == ([1],)
        assert [queue.fetch_job(j.id).args for j in many] == [([2, 3],), ([2, 3],)]
        assert "stored_fields" not in vars(waiting)  # the job is itself again after the commit
