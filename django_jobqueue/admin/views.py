"""The pages: dashboard, a queue's tabs, a job, the workers. Each costs a fixed number of
Redis round trips, however many jobs a queue holds."""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from ..engine import keys, overview
from ..engine.states import tab_of
from ..engine.worker.info import CHILD, POOL, WORKER, WorkerInfo, grouped
from ..integration import settings
from ..integration.overview import read_overview
from . import actions, activity, data, jobtimes, refs
from .access import Links, can_change, can_view, guarded, page_context
from .times import shown_time

PAGE_SIZES = (10, 25, 50, 100, 250, 500)
DEFAULT_PAGE_SIZE = 25
#: jobs scanned by one search request (a search never holds Redis for long)
SEARCH_SLICE = 20_000
#: no tab holds more jobs than this (keeps offsets exact integers in Lua)
MAX_OFFSET = 2**50
STATE_LABELS = {"queued": "Queued", "started": "Started", "scheduled": "Scheduled",
                "deferred": "Deferred", "finished": "Finished", "failed": "Failed",
                "canceled": "Canceled"}


@guarded(can_view)
def dashboard(request: HttpRequest, site: Any) -> HttpResponse:
    found = read_overview()
    links = Links(request)
    rows = []
    for counts in found.counts:
        tab = links.state_urls(counts.name)
        rows.append({
            "name": counts.name, "url": links.queue(counts.name),
            "unreachable": counts.name in found.unreachable,
            "cells": [{"state": state, "count": count, "url": tab(state)}
                      for state, count in counts.by_state()],
            "oldest_age": _age(counts.oldest_age), "workers": counts.workers,
            "paused": counts.paused,
        })
    return TemplateResponse(request, "django_jobqueue/dashboard.html", page_context(
        request, site, "Queues", rows=rows, errors=found.errors, states=STATE_LABELS,
        worker_count=len(grouped(found.workers)),  # a pool counts once, as on the workers page
        activity=activity.activity(request, [c.name for c in found.counts],
                                   skip=found.unreachable),
        activity_of="all queues" if len(found.counts) > 1 else "",
    ))


@guarded(can_view)
def queue_page(request: HttpRequest, queue: str, site: Any, state: str = "queued") -> HttpResponse:
    if state not in overview.STATES:
        raise data.NotFound(f"{state!r} is not a state of a queue.")
    q = data.queue_or_404(queue)
    if request.method == "POST":
        return actions.bulk(request, q, state, site)
    params = _listing_params(request, state)
    (counts,), _ = overview.overview(q.connection, [q.name])
    total = dict(counts.by_state())[state]
    links = Links(request)
    search = None
    if params["q"]:
        ids, search = _search(q, state, params)
        if search.get("elsewhere"):
            search["elsewhere_url"] = links.job(q.name, params["q"])
    else:
        pages = max(1, math.ceil(total / params["per_page"]))
        params["page"] = min(params["page"], pages)
        offset = (params["page"] - 1) * params["per_page"]
        total, ids = overview.page_of_ids(q.connection, q.name, state, offset,
                                          params["per_page"], params["order"] == "newest")
    tab = links.state_urls(q.name)
    scheduled = state == "scheduled"
    rows = [row for row in overview.summaries(
        q.connection, ids, q.serializer, errors=state == "failed",
        scores_in=overview.state_key(q.name, state) if scheduled else None) if row]
    job_url = links.job_urls(q.name)
    for row in rows:
        row.url = job_url(row.id)  # None for an id that is no job id: shown as text
        # a scheduled job has not been enqueued yet: show when it is due instead
        first = row.score if scheduled else row.enqueued_at
        row.times = [shown_time(t) for t in (first, row.started_at, row.ended_at)]
    pages = max(1, math.ceil(total / params["per_page"]))
    return TemplateResponse(request, "django_jobqueue/queue.html", page_context(
        request, site, f"Queue {q.name}: {STATE_LABELS[state].lower()} jobs",
        trail=[("Queues", links.dashboard()), (q.name, None), (state, None)], queue=q.name,
        state=state, tabs=[(s, STATE_LABELS[s], n, tab(s)) for s, n in counts.by_state()],
        rows=rows, total=total, params=params, pages=pages, page_sizes=PAGE_SIZES,
        page_links=_page_links(request, params["page"], pages), search=search,
        bulk_actions=actions.BULK_ACTIONS, workers=counts.workers,
        queue_actions=[(a, links.queue_action(q.name, a.slug))
                       for a in actions.QUEUE_ACTIONS.values() if a.state == state and total],
        paused=counts.paused, switch=_switch(q.name, counts.paused, links),
        activity=activity.activity(request, [q.name]), activity_of="",
        **_columns(rows, can_change(request.user)),
    ))


def _columns(rows: list[Any], selectable: bool) -> dict[str, Any]:
    """The listing's optional columns, shown only when a row of the page has a value
    there (the table fits beside the admin's sidebar), and how many columns there are."""
    description = any(row.description for row in rows)
    progress = any(row.progress is not None for row in rows)
    shown = 6 + description + progress  # the job's own columns (not its checkbox)
    return {"show_description": description, "show_progress": progress,
            "job_columns": shown, "column_count": shown + selectable}


def _switch(queue: str, paused: bool, links: Links) -> dict[str, str]:
    """The pause or resume button (read with the counts: no extra round trip)."""
    action = "resume" if paused else "pause"
    return {"action": action, "label": actions.QUEUE_SWITCHES[action],
            "url": links.queue_action(queue, action)}


def _listing_params(request: HttpRequest, state: str) -> dict[str, Any]:
    """Page, page size and order from the query string; a bad value becomes the nearest
    valid one (the page number is clamped once the count is known)."""
    get = request.GET
    per_page = _int(get.get("per_page"), DEFAULT_PAGE_SIZE)
    per_page = min(PAGE_SIZES, key=lambda size: (abs(size - per_page), size))
    page = max(1, _int(get.get("page"), 1))
    default_order = "oldest" if state == "queued" else "newest"
    order = get.get("order") if get.get("order") in ("newest", "oldest") else default_order
    return {"per_page": per_page, "page": page, "order": order,
            "q": "".join(ch for ch in get.get("q", "") if ch.isprintable()).strip()[:200],
            "start": min(max(0, _int(get.get("start"), 0)), MAX_OFFSET)}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        try:
            return round(float(value))
        except (ValueError, OverflowError):
            return default


def _search(q: Any, state: str, params: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """An exact job id first (any size of queue), else a substring of id or function name
    in a bounded slice of the tab, continued by a link."""
    needle = params["q"]
    if data.valid_job_id(needle) and overview.holds(q.connection, q.name, state, needle):
        return [needle], {"exact": True, "next": -1, "start": 0, "end": 0, "size": 0}
    elsewhere = None
    if data.valid_job_id(needle):  # an id of this queue in another tab: say where it is
        status, origin = q.connection.hmget(keys.job(needle), ["status", "origin"])
        if data.decode_text(origin) == q.name:
            elsewhere = data.decode_text(status) or "unknown"
    ids, next_start, size = overview.search(
        q.connection, q.name, state, needle, params["start"], params["order"] == "newest",
        wanted=params["per_page"], slice_size=SEARCH_SLICE)
    end = next_start if next_start >= 0 else size
    return ids, {"exact": False, "next": next_start, "start": params["start"], "end": end,
                 "size": size, "elsewhere": elsewhere}


def _page_links(request: HttpRequest, page: int, pages: int) -> list[tuple[int | None, str]]:
    """(page number or None for a gap, URL) around the current page."""
    wanted = sorted(n for n in {1, 2, pages - 1, pages, *range(page - 2, page + 3)}
                    if 1 <= n <= pages)
    out: list[tuple[int | None, str]] = []
    previous = 0
    for number in wanted:
        if number - previous > 1:
            out.append((None, ""))
        query = request.GET.copy()
        query["page"] = str(number)
        out.append((number, "?" + query.urlencode()))
        previous = number
    return out


@guarded(can_view)
def job_page(request: HttpRequest, queue: str, job_id: str, site: Any) -> HttpResponse:
    q = data.queue_or_404(queue)
    job = data.read_job(q, job_id)
    stats, problem = jobtimes.function_stats(q, job.func_name)
    after_ended = next((n + 1 for n, v in enumerate(job.fields) if v.label == "Ended"),
                       len(job.fields))
    job.fields[after_ended:after_ended] = jobtimes.timing_values(job, stats, problem)
    links = Links(request)
    for value in job.fields:
        if value.problem:
            continue
        if value.label == "Queue":
            value.link = links.queue(q.name)
        elif value.label == "Worker" and value.text != "—":
            value.link = links.workers()
        elif value.label in ("Dependency", "Chain"):  # an id that is no job id stays text
            value.link = links.job_if_valid(q.name, value.text)
        elif value.label == "Group" and value.text != "—":
            value.link = links.group_if_valid(data.connection_name(q.name), value.text)
        elif value.label == "Limit key" and value.text != "—":
            value.link = links.limit_if_valid(data.connection_name(q.name), value.text)
    return TemplateResponse(request, "django_jobqueue/job.html", page_context(
        request, site, f"Job {job.id}",
        trail=[("Queues", links.dashboard()), (q.name, links.queue(q.name, tab_of(job.status))),
               (job.id, None)],
        queue=q.name, job=job, state_url=links.queue(q.name, tab_of(job.status)),
        action_urls=[(a, actions.JOB_ACTION_LABELS[a], links.job_action(q.name, job.id, a),
                      actions.QUESTIONS.get(a)) for a in job.actions],
    ))


@guarded(can_view)
def object_redirect(request: HttpRequest, object_id: str, site: Any) -> HttpResponse:
    """Where the admin's history ("Recent actions") links: a queue's page, the periodic jobs
    page, a job's, or a group's."""
    links = Links(request)
    if object_id in settings.load().queues:
        return HttpResponseRedirect(links.queue(object_id))
    if any(job.name == object_id for job in settings.load().periodic):
        return HttpResponseRedirect(links.periodic())  # an action on a periodic job
    if data.valid_job_id(object_id):
        one_queue_per_connection = {data.connection_name(q): q for q in settings.load().queues}
        for name in one_queue_per_connection.values():
            origin = data.job_origin(name, object_id)
            if origin in settings.load().queues:
                return HttpResponseRedirect(links.job(origin, object_id))
        for connection in refs.connection_names():  # an action on a group
            if refs.client_or_404(connection).exists(keys.group(object_id)):
                return HttpResponseRedirect(links.group(connection, object_id))
    raise data.NotFound(f"No queue, job or group {object_id!r} (a job or group may have "
                        "expired).")


@guarded(can_view)
def workers_page(request: HttpRequest, site: Any) -> HttpResponse:
    """Each pool, its children indented under it, then the standalone workers."""
    found = read_overview()
    links = Links(request)
    workers = []
    for worker, children in grouped(found.workers):
        workers.append(_worker_row(worker, links))
        workers.extend(_worker_row(child, links, under=worker.name) for child in children)
    return TemplateResponse(request, "django_jobqueue/workers.html", page_context(
        request, site, "Workers", workers=workers, errors=found.errors))


def _worker_row(worker: WorkerInfo, links: Links, under: str | None = None) -> dict[str, Any]:
    """What a row of the workers page shows; names from the worker's record become links
    only when they name a configured queue or a job id. ``under``: the pool of a child shown
    under it (a child whose pool's record is missing is shown as a worker of its own)."""
    configured = settings.load().queues
    kind = CHILD if under is not None else POOL if worker.kind == POOL else WORKER
    return {
        "worker": worker, "kind": kind, "under": under,
        # a child standing alone says which pool started it
        "orphan_of": worker.pool if worker.kind == CHILD and under is None else None,
        "queues": [(name, links.queue_if_valid(name) if name in configured else None)
                   for name in worker.queue_names],
        "jobs": [(job_id, links.find_if_valid(job_id)) for job_id in worker.current_job_ids],
        "birth": shown_time(worker.birth), "last_heartbeat": shown_time(worker.last_heartbeat),
    }


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"
