"""A Django tasks backend (Django 6.0+, ``django.tasks``) on the job engine.

    TASKS = {"default": {
        "BACKEND": "django_jobqueue.tasks.JobQueueBackend",
        "QUEUES": ["default", "high"],          # each one a JOBQUEUE queue
        "OPTIONS": {"RESULT_TTL": 3600, "FAILURE_TTL": None, "TIMEOUT": 600,
                    "RETRY": {"MAX": 3, "INTERVAL": 10, "BACKOFF": 2}},
    }}

Every task becomes one job of :func:`run_task`, a module-level runner, so ``manage.py
runworker`` runs ``@task`` functions with no extra flag. The Job is the TaskResult's store:
``get_result`` rebuilds it from the job's hash and its kept results. Building the backend
touches no Redis (Django builds it to validate tasks at import time).
"""

from __future__ import annotations

import dataclasses
import traceback
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from inspect import iscoroutinefunction
from typing import Any

try:
    from django.tasks import task_backends
except ImportError as exc:  # Django 5.2
    raise ImportError(
        "django_jobqueue.tasks needs Django 6.0+ (the django.tasks framework)"
    ) from exc

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import Task, TaskContext, TaskError, TaskResult, TaskResultStatus
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json
from django.utils.module_loading import import_string

from .engine.exceptions import NoSuchJobError
from .engine.execution import get_current_job
from .engine.job import Job, JobStatus
from .engine.results import Result
from .engine.retries import Retry, RetryLater, decide
from .integration import settings as jobqueue_settings
from .integration.queues import get_connection, get_queue
from .integration.retry_settings import RETRY_HINT, parse_retry

RUNNER = "django_jobqueue.tasks.run_task"
OPTION_KEYS = {"RESULT_TTL", "FAILURE_TTL", "TIMEOUT", "RETRY"}
#: job.meta keys: the task's path and settings, and the exception class path of each failure
META_TASK = "django_task"
META_ERRORS = "django_task_errors"

STATUSES = {
    JobStatus.QUEUED: TaskResultStatus.READY,
    JobStatus.SCHEDULED: TaskResultStatus.READY,
    JobStatus.DEFERRED: TaskResultStatus.READY,
    JobStatus.STARTED: TaskResultStatus.RUNNING,
    JobStatus.FINISHED: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.STOPPED: TaskResultStatus.FAILED,
    JobStatus.CANCELED: TaskResultStatus.FAILED,
}


class JobQueueBackend(BaseTaskBackend):
    """Tasks as jobs on JOBQUEUE queues: priorities, ``run_after``, async tasks, results."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def validate_task(self, task: Task) -> None:
        """Django's checks, plus: ``run_after`` may be a timedelta, and the queue must be a
        configured JOBQUEUE queue (read from settings only: no Redis here)."""
        if isinstance(task.run_after, timedelta):
            _validate_without_run_after(self, task)
        else:
            super().validate_task(task)
        configured = jobqueue_settings.load().queues
        if task.queue_name not in configured:
            raise InvalidTask(
                f"Queue {task.queue_name!r} is not a JOBQUEUE queue "
                f"(JOBQUEUE['QUEUES'] configures {', '.join(sorted(configured))})"
            )

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        args, kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
        run_after = _absolute(task.run_after)
        meta = {META_TASK: {"backend": self.alias, "queue_name": task.queue_name,
                            "run_after": run_after.timestamp() if run_after else None}}
        options: dict[str, Any] = {
            "args": [task.module_path, self.alias, args, kwargs], "kwargs": {},
            "priority": task.priority, "meta": meta, "description": task.module_path,
            "result_ttl": self.options.get("RESULT_TTL"),
            "failure_ttl": self.options.get("FAILURE_TTL"),
            "job_timeout": self.options.get("TIMEOUT"),
        }
        if self.options.get("RETRY") is not None:  # else the queue's RETRY, if any
            options["retry"] = self._retry()
        queue = get_queue(task.queue_name)
        pending_commit = queue.pending_commit_alias()
        if run_after is not None:
            job = queue.enqueue_at(run_after, RUNNER, **options)
        else:
            job = queue.enqueue(RUNNER, **options)
        result = TaskResult(
            task=dataclasses.replace(task, run_after=run_after) if run_after else task,
            id=job.id, status=TaskResultStatus.READY,
            enqueued_at=_local(job.created_at) or timezone.now(), started_at=None,
            finished_at=None, last_attempted_at=None, args=args, kwargs=kwargs,
            backend=self.alias, errors=[], worker_ids=[],
        )
        if pending_commit and job.status is None:
            # the job reaches Redis at the commit (registered before this callback)
            transaction.on_commit(
                lambda: task_enqueued.send(type(self), task_result=result),
                using=pending_commit,
            )
        else:
            task_enqueued.send(type(self), task_result=result)
        return result

    def _retry(self) -> Retry:
        """OPTIONS["RETRY"] (retry_settings.py): every task's retries; check() reports a
        bad one (E103), and an enqueue refuses it."""
        retry, wrong = parse_retry(self.options["RETRY"])
        if retry is None:
            raise ImproperlyConfigured(f"TASKS[{self.alias!r}]['OPTIONS']['RETRY'] {wrong}. "
                                       f"{RETRY_HINT} (django_jobqueue.E103)")
        return retry

    def get_result(self, result_id: str) -> TaskResult:
        seen: set[int] = set()
        # the job lives on its queue's connection (check() reports a queue missing there)
        for name in sorted(self.queues & set(jobqueue_settings.load().queues)):
            connection = get_connection(name)
            if id(connection) in seen:
                continue
            seen.add(id(connection))
            try:
                job = Job.fetch(str(result_id), connection=connection)
            except NoSuchJobError:
                continue
            if job.func_name == RUNNER:
                return self.result_from_job(job)
        raise TaskResultDoesNotExist(result_id)

    def result_from_job(self, job: Job, running: bool = False) -> TaskResult:
        """The TaskResult a job stands for (``running``: the job being run right now)."""
        task_path, _alias, args, kwargs = job.args
        saved = job.meta.get(META_TASK, {})
        run_after = saved.get("run_after")
        task = _task(task_path, self.alias, saved.get("queue_name", job.origin), job.priority,
                     _local(datetime.fromtimestamp(run_after, tz=dt_timezone.utc))
                     if run_after else None)
        kept = list(reversed(job.results()))  # oldest first
        worker_ids = [r.worker_name for r in kept]
        status = TaskResultStatus.RUNNING if running else STATUSES.get(
            job.status, TaskResultStatus.READY)
        if status == TaskResultStatus.RUNNING and job.worker_name:
            worker_ids.append(job.worker_name)  # the attempt in progress has no result yet
        failures = [r for r in kept if r.type != Result.Type.SUCCESSFUL]
        class_paths = job.meta.get(META_ERRORS, [])
        errors = [
            TaskError(
                exception_class_path=(class_paths[i] if i < len(class_paths)
                                      else _class_path_from(r.exc_string or "")),
                traceback=r.exc_string or "",
            )
            for i, r in enumerate(failures)
        ]
        if job.status == JobStatus.FAILED and not failures and job.exc_info:
            errors.append(TaskError(exception_class_path=_class_path_from(job.exc_info),
                                    traceback=job.exc_info))
        finished = status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
        result = TaskResult(
            task=task, id=job.id, status=status,
            enqueued_at=_local(job.created_at or job.enqueued_at),
            started_at=_local(job.started_at), last_attempted_at=_local(job.started_at),
            finished_at=_local(job.ended_at) if finished else None,
            args=args, kwargs=kwargs, backend=self.alias, errors=errors,
            worker_ids=worker_ids,
        )
        if status == TaskResultStatus.SUCCESSFUL:
            latest = job.latest_result()
            value = latest.return_value if latest is not None else None
            object.__setattr__(result, "_return_value", value)
        return result

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        messages: list[checks.CheckMessage] = []
        known = jobqueue_settings.load().queues
        for name in sorted(self.queues - set(known)):
            messages.append(checks.Error(
                f"TASKS[{self.alias!r}]['QUEUES'] names {name!r}, which is not a JOBQUEUE "
                "queue", hint=f"Add it to JOBQUEUE['QUEUES'] (configured: "
                f"{', '.join(sorted(known))}).", id="django_jobqueue.E101"))
        for key in sorted(set(self.options) - OPTION_KEYS):
            messages.append(checks.Error(
                f"TASKS[{self.alias!r}]['OPTIONS'] has an unknown key {key!r}",
                hint=f"Known keys: {', '.join(sorted(OPTION_KEYS))}.",
                id="django_jobqueue.E102"))
        if self.options.get("RETRY") is not None:
            _, wrong = parse_retry(self.options["RETRY"])
            if wrong:
                messages.append(checks.Error(
                    f"TASKS[{self.alias!r}]['OPTIONS']['RETRY'] {wrong}", hint=RETRY_HINT,
                    id="django_jobqueue.E103"))
        return messages


def run_task(task_path: str, backend_alias: str, args: list, kwargs: dict) -> Any:
    """The job behind every task: import the task, send ``task_started``, run it (a
    coroutine function goes back to the engine as a coroutine, which runs it with its
    timeout), send ``task_finished``. Returns the JSON-normalized return value."""
    backend = task_backends[backend_alias]
    job = get_current_job()
    if job is None:
        raise RuntimeError("run_task runs as a job of django_jobqueue")
    result = backend.result_from_job(job, running=True)
    task_started.send(type(backend), task_result=result)
    call_args = [TaskContext(task_result=result), *args] if result.task.takes_context else args
    if iscoroutinefunction(result.task.func):
        return _run_async(backend, job, result, call_args, kwargs)
    try:
        value = normalize_json(result.task.func(*call_args, **kwargs))
    except BaseException as exc:
        _finish_failed(backend, job, result, exc)
        raise
    _finish_ok(backend, result, value)
    return value


async def _run_async(backend: BaseTaskBackend, job: Job, result: TaskResult, args: list,
                     kwargs: dict) -> Any:
    try:
        value = normalize_json(await result.task.func(*args, **kwargs))
    except BaseException as exc:
        _finish_failed(backend, job, result, exc)
        raise
    _finish_ok(backend, result, value)
    return value


def _finish_ok(backend: BaseTaskBackend, result: TaskResult, value: Any) -> None:
    object.__setattr__(result, "_return_value", value)
    object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
    object.__setattr__(result, "finished_at", timezone.now())
    task_finished.send(type(backend), task_result=result)


def _finish_failed(backend: BaseTaskBackend, job: Job, result: TaskResult,
                   exc: BaseException) -> None:
    """Keep the exception's class path (the traceback alone loses builtins' module), and
    send ``task_finished`` inside the handler, as Django does (its log reads exc_info)."""
    kind = type(exc)
    path = f"{kind.__module__}.{kind.__qualname__}"
    job.meta.setdefault(META_ERRORS, []).append(path)
    try:
        job.save_meta()
    except Exception:  # the error still reaches the job; get_result parses the traceback
        pass
    if _will_retry(job, exc):  # not finished: the task runs again (its result stays READY)
        return
    result.errors.append(TaskError(exception_class_path=path,
                                   traceback="".join(traceback.format_exception(exc))))
    object.__setattr__(result, "status", TaskResultStatus.FAILED)
    object.__setattr__(result, "finished_at", timezone.now())
    task_finished.send(type(backend), task_result=result)


def _will_retry(job: Job, exc: BaseException) -> bool:
    """Whether the engine retries the job after this failure (the worker decides the same
    way, with the same fields, once the task returns)."""
    request = exc if isinstance(exc, RetryLater) else None
    return decide(job.retry_policy, job.retries_left, exc, request, job.id).retry


def _validate_without_run_after(backend: JobQueueBackend, task: Task) -> None:
    """Django's checks for a task whose ``run_after`` is a timedelta (Django's own check
    wants a datetime); ``replace`` would validate again, so the check runs on a copy."""
    copy = object.__new__(type(task))
    for field in dataclasses.fields(task):
        object.__setattr__(copy, field.name, getattr(task, field.name))
    object.__setattr__(copy, "run_after", None)
    BaseTaskBackend.validate_task(backend, copy)


def _task(path: str, alias: str, queue_name: str, priority: int,
          run_after: datetime | None) -> Task:
    task = import_string(path)
    if not isinstance(task, Task):
        raise TypeError(f"{path} is not a django.tasks Task")
    changes = {"backend": alias, "queue_name": queue_name, "priority": priority,
               "run_after": run_after}
    if all(getattr(task, k) == v for k, v in changes.items()):
        return task
    return dataclasses.replace(task, **changes)


def _absolute(run_after: datetime | timedelta | None) -> datetime | None:
    """An aware datetime (naive ones are in the current time zone, as Django reads them)."""
    if run_after is None:
        return None
    if isinstance(run_after, timedelta):
        return timezone.now() + run_after
    if timezone.is_naive(run_after):
        return timezone.make_aware(run_after)
    return run_after


def _local(value: datetime | None) -> datetime | None:
    """The engine's UTC datetimes, naive in the current time zone when USE_TZ is off."""
    if value is None or settings.USE_TZ:
        return value
    return timezone.make_naive(value)


def _class_path_from(text: str) -> str:
    """The exception class path from a traceback's last line (``pkg.Error: message``)."""
    lines = [line for line in text.strip().splitlines() if line and not line[0].isspace()]
    if not lines:
        return "builtins.Exception"
    name = lines[-1].split(":", 1)[0].strip()
    return name if "." in name else f"builtins.{name}"
