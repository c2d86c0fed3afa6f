"""``manage.py jobqueue pause QUEUE`` / ``resume QUEUE``: seen by a worker of that queue;
``resume`` without a queue still ends a suspension, and with one leaves a suspension alone;
an unknown queue is a CommandError naming the configured ones."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_jobqueue import JobStatus, get_queue, get_worker
from django_jobqueue.engine import suspension


def jobqueue(*args: str) -> str:
    out = StringIO()
    call_command("jobqueue", *args, stdout=out)
    return out.getvalue().strip()


def test_pause_and_resume_a_queue_reach_its_workers():
    high, low = get_queue("high"), get_queue("low")
    held, ran = high.enqueue("os.getpid"), low.enqueue("os.getpid")
    assert jobqueue("pause", "high") == "Queue high paused"
    assert high.is_paused and not low.is_paused
    assert jobqueue("pause", "high") == "Queue high was paused already"
    assert get_worker("high", "low").work(burst=True) is True  # low's job only
    assert ran.get_status() == JobStatus.FINISHED and held.get_status() == JobStatus.QUEUED
    assert jobqueue("resume", "high") == "Queue high resumed"
    assert not high.is_paused
    assert jobqueue("resume", "high") == "Queue high was not paused"
    assert get_worker("high").work(burst=True) is True
    assert held.get_status() == JobStatus.FINISHED


def test_resume_with_a_queue_leaves_a_suspension_alone():
    connection = get_queue().connection
    jobqueue("suspend")
    jobqueue("pause", "default")
    jobqueue("resume", "default")
    assert suspension.is_suspended(connection) and not get_queue().is_paused
    assert jobqueue("resume") == "Workers resumed"
    assert not suspension.is_suspended(connection)


@pytest.mark.parametrize("action", ["pause", "resume"])
@pytest.mark.parametrize("name", ["nosuch", "bad name"])
def test_an_unknown_queue_is_a_command_error(action, name):
    with pytest.raises(CommandError, match=f"Unknown queue '{name}'.*default"):
        jobqueue(action, name)


def test_pause_needs_a_queue():
    with pytest.raises(CommandError, match="QUEUE"):
        jobqueue("pause")
