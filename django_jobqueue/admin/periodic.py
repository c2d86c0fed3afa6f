"""The admin's "Periodic jobs" page: every periodic job of JOBQUEUE['PERIODIC'] with its
schedule in words, time zone, next run, last run (its status, a link to its job), whether
it is enabled; and the operators' actions run now, disable, enable (POST, change
permission, logged)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from redis.exceptions import RedisError

from ..integration import periodic
from .access import Links, can_change, can_view, guarded, log_actions, page_context
from .data import NotFound
from .times import shown_time

#: action slug -> (button label, what the log says was done)
ACTIONS = {"run": ("Run now", "Enqueued a run now of periodic job {name} (job {job_id})."),
           "disable": ("Disable", "Disabled periodic job {name}."),
           "enable": ("Enable", "Enabled periodic job {name}.")}


@guarded(can_view)
def periodic_page(request: HttpRequest, site: Any) -> HttpResponse:
    links = Links(request)
    rows = [_row(row, links) for row in periodic.periodic_rows()]
    return TemplateResponse(request, "django_jobqueue/periodic.html", page_context(
        request, site, "Periodic jobs", rows=rows, actions=ACTIONS))


def _row(row: periodic.PeriodicRow, links: Links) -> dict[str, Any]:
    job, status = row.job, row.status
    last_job = status.last_job_id if status else None
    return {
        "name": job.name, "func": job.func_name, "schedule": job.describe(),
        "expression": job.cron or f"every {job.every} s", "timezone": job.timezone,
        "queue": job.queue, "queue_url": links.queue_if_valid(job.queue),
        "enabled": row.enabled, "scheduled": status is not None,
        "next_run": shown_time(row.next_run),
        "last_run": shown_time(row.last_run),
        "last_job": last_job, "last_job_url": links.job_if_valid(job.queue, last_job)
        if last_job else None,
        "last_status": status.last_status if status else None,
        "skipped": status.skipped if status else 0,
        "skip_reason": status.last_skip_reason if status else None,
        "action_urls": {slug: links.periodic_action(job.name, slug) for slug in ACTIONS},
    }


@guarded(can_change)
def periodic_action(request: HttpRequest, name: str, action: str, site: Any) -> HttpResponse:
    if action not in ACTIONS:
        raise NotFound(f"No action {action!r} on periodic jobs.")
    if periodic.find_periodic(name) is None:
        raise NotFound(f"No periodic job {name!r} in JOBQUEUE['PERIODIC'].")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    back = HttpResponseRedirect(Links(request).periodic())
    if action == "run":
        try:
            fired = periodic.run_now(name)
        except RedisError:
            raise
        except Exception as exc:  # noqa: BLE001 - a definition broken since the check
            messages.error(request, f"Periodic job {name}: its job cannot be enqueued: "
                           f"{type(exc).__name__}: {exc}")
            return back
        job_id = fired.job_id or ""
        if fired.outcome != "fired":
            messages.warning(request, f"Periodic job {name}: nothing enqueued "
                             f"({fired.outcome}).")
            return back
        messages.success(request, f"Periodic job {name}: job {job_id} enqueued.")
    else:
        if not periodic.set_enabled(name, action == "enable"):
            messages.warning(request, f"Periodic job {name} is not scheduled yet: no worker "
                             "with its definition has started. Set ENABLED in its settings.")
            return back
        job_id = ""
        messages.success(request, f"Periodic job {name} {action}d.")
    log_actions(request.user, [(name, ACTIONS[action][1].format(name=name, job_id=job_id))])
    return back
