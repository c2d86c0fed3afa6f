"""The example's jobs. Each runs on ``manage.py runworker`` and reports its progress through
``job.meta`` + ``save_meta()``, which the page polls (demo/views.py)."""

from __future__ import annotations

import time

from django.conf import settings

from django_jobqueue import get_current_job, job


def report_progress(percent: int, **extra: object) -> None:
    """Store the progress of the job running this code (a no-op when called directly)."""
    current = get_current_job()  # None outside a worker: the function stays callable
    if current is None:
        return
    current.meta["progress"] = percent
    current.meta.update(extra)
    current.save_meta()  # visible to the web process at once; never touches the status


@job(result_ttl=3600)
def count_to(n: int = 20, delay: float = 0.2) -> dict:
    """Count to ``n``, one step every ``delay`` seconds; return the count and the sum."""
    report_progress(0, step=0)
    for step in range(1, n + 1):
        time.sleep(delay)
        report_progress(step * 100 // n, step=step)
    return {"counted": n, "sum": n * (n + 1) // 2}


@job(result_ttl=3600)
def fail_on_purpose(message: str = "this job fails on purpose") -> None:
    """Get half-way and raise: the failed job keeps its traceback (FailedJobRegistry)."""
    report_progress(50)
    time.sleep(0.2)
    raise RuntimeError(message)


if settings.HAS_DJANGO_TASKS:  # Django 6.0+: Django's own task API, on the same worker
    from django.tasks import task

    @task
    def multiply(a: int, b: int) -> int:
        """A ``django.tasks`` task: ``multiply.enqueue(6, 7)``; runworker runs it."""
        time.sleep(0.5)
        return a * b


def tidy_up() -> str:
    """A periodic job (JOBQUEUE["PERIODIC"] in demo_site/settings.py): the workers enqueue it
    every minute, once between them; see the admin's "Periodic jobs"."""
    return f"tidied up at {time.strftime('%H:%M:%S')}"
