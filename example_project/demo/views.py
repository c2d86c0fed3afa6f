"""The demo page: start a job, then poll its status JSON until it is finished or failed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from django_jobqueue import InvalidJobId, get_queue

from . import tasks


@require_GET
@ensure_csrf_cookie  # the page's fetch() sends the cookie's token back
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/index.html", {"has_django_tasks": settings.HAS_DJANGO_TASKS})


@require_POST
def start_job(request: HttpRequest) -> JsonResponse:
    """Enqueue the chosen job; answer its id and where to poll its status."""
    kind = request.POST.get("task", "count_to")
    if kind == "count_to":
        try:
            n = min(max(int(request.POST.get("n", "20")), 1), 200)
        except ValueError:
            return HttpResponseBadRequest("n must be a number")
        job = tasks.count_to.delay(n=n)
    elif kind == "fail_on_purpose":
        job = tasks.fail_on_purpose.delay()
    elif kind == "multiply" and settings.HAS_DJANGO_TASKS:
        result = tasks.multiply.enqueue(6, 7)
        url = reverse("task_status", args=[result.id])
        return JsonResponse({"id": result.id, "status_url": url}, status=202)
    else:
        return HttpResponseBadRequest(f"unknown task {kind!r}")
    url = reverse("job_status", args=[job.id])
    return JsonResponse({"id": job.id, "status_url": url}, status=202)


@require_GET
def job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    """``{status, progress, result, error}`` of a job of the default queue; 404 if unknown."""
    try:
        job = get_queue("default").fetch_job(job_id)
    except InvalidJobId:
        job = None
    if job is None:
        raise Http404("No such job")
    status = job.get_status()
    latest = job.latest_result()
    return JsonResponse({
        "id": job.id,
        "status": str(status) if status else None,
        "progress": job.get_meta().get("progress", 0),
        "result": _jsonable(latest.return_value) if status == "finished" and latest else None,
        "error": _last_line(latest.exc_string) if status == "failed" and latest else None,
    })


@require_GET
def task_status(request: HttpRequest, result_id: str) -> JsonResponse:
    """The same JSON for a ``django.tasks`` task (Django 6.0+)."""
    if not settings.HAS_DJANGO_TASKS:
        raise Http404("django.tasks needs Django 6.0+")
    from django.tasks import TaskResultStatus
    from django.tasks.exceptions import TaskResultDoesNotExist

    try:
        result = tasks.multiply.get_result(result_id)
    except TaskResultDoesNotExist:
        raise Http404("No such task result") from None
    done = result.status == TaskResultStatus.SUCCESSFUL
    failed = result.status == TaskResultStatus.FAILED
    return JsonResponse({
        "id": result.id,
        "status": {"SUCCESSFUL": "finished", "FAILED": "failed"}.get(
            result.status.name, result.status.name.lower()),
        "progress": 100 if done or failed else 0,
        "result": _jsonable(result.return_value) if done else None,
        "error": result.errors[-1].exception_class_path if failed and result.errors else None,
    })


def _jsonable(value: Any) -> Any:
    try:
        JsonResponse(value, safe=False)
    except TypeError:
        return repr(value)
    return value


def _last_line(text: str | None) -> str | None:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else None
