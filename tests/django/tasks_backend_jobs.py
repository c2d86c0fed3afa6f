"""``@task`` functions for the tasks-backend tests (Django 6+; importable by dotted path).

Decorated against whatever TASKS holds at import; the tests pick queues with ``.using()``.
"""

from __future__ import annotations

import asyncio

from django.tasks import default_task_backend, task

from django_jobqueue import get_current_job

ORDER_KEY = "tests:tasks-backend:order"


class TaskBoom(Exception):
    """A task's own exception class, to check the class path in TaskResult.errors."""


@task
def add(a, b):
    return a + b


@task
def boom(message):
    raise TaskBoom(message)


@task
def record(label):
    """Appends its label to a Redis list: the order the worker ran tasks in."""
    get_current_job().connection.rpush(ORDER_KEY, label)
    return label


@task
async def async_double(value):
    await asyncio.sleep(0)
    return {"double": value * 2, "job": get_current_job().id}


@task(takes_context=True)
def with_context(context, value):
    return {"attempt": context.attempt, "id": context.task_result.id, "value": value}


@task
def own_status():
    """What get_result says about this task while it runs."""
    seen = default_task_backend.get_result(get_current_job().id)
    return {"status": seen.status.value, "worker_ids": seen.worker_ids,
            "started": seen.started_at is not None}
