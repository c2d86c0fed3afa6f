"""Queue counts for machines: a JSON document and Prometheus' text format. Staff with the
view permission may read them, and so may a scraper sending ``Authorization: Bearer
<JOBQUEUE["METRICS_TOKEN"]>`` (compared in constant time); anyone else gets 401."""

from __future__ import annotations

import hmac
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from ..engine.worker.info import grouped
from ..integration import settings
from ..integration.overview import read_overview
from . import data
from .access import can_view


def _allowed(request: HttpRequest, site: Any) -> bool:
    user = getattr(request, "user", None)
    # the site's own rule too (a custom AdminSite may ask more, e.g. a second factor)
    if user is not None and user.is_authenticated and can_view(user) \
            and site.has_permission(request):
        return True
    token = settings.load().metrics_token
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if not token or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _unauthorized() -> HttpResponse:
    response = JsonResponse({"error": "authentication required: log in as staff with the "
                                      "view permission, or send the metrics bearer token"},
                            status=401)
    response["WWW-Authenticate"] = 'Bearer realm="django-jobqueue"'
    return response


@never_cache
def stats_json(request: HttpRequest, site: Any, **_: Any) -> HttpResponse:
    if not _allowed(request, site):
        return _unauthorized()
    found = read_overview()  # a connection it cannot read is reported in it
    queues = {}
    for counts in found.counts:
        reachable = counts.name not in found.unreachable
        queues[counts.name] = {  # an unreachable queue's counts are unknown, not zero
            **{state: count if reachable else None for state, count in counts.by_state()},
            "oldest_job_age": counts.oldest_age,
            "workers": len(counts.workers) if reachable else None,
            "paused": counts.paused if reachable else None,
            "reachable": reachable,
        }
    workers = [{
        "name": w.name, "hostname": w.hostname, "pid": w.pid, "state": w.state,
        "queues": w.queue_names, "current_job": w.current_job_id,
        "successful_job_count": w.successful_job_count,
        "failed_job_count": w.failed_job_count,
        "last_heartbeat": w.last_heartbeat.isoformat() if w.last_heartbeat else None,
        # a pool's supervisor, one of its child processes, or a standalone worker
        "kind": w.kind, "pool": w.pool, "processes": w.processes, "threads": w.threads,
        "children": w.children, "current_jobs": w.current_job_ids,
    } for w in found.workers]
    return JsonResponse({"queues": queues, "workers": workers, "errors": found.errors})


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@never_cache
def prometheus(request: HttpRequest, site: Any, **_: Any) -> HttpResponse:
    if not _allowed(request, site):
        return _unauthorized()
    found = read_overview()  # a connection it cannot read is reported in it
    lines = ["# HELP jobqueue_jobs Jobs of a queue, by state.", "# TYPE jobqueue_jobs gauge"]
    for counts in found.counts:
        if counts.name in found.unreachable:
            continue
        for state, count in counts.by_state():
            lines.append(f'jobqueue_jobs{{queue="{_label(counts.name)}",state="{state}"}} '
                         f"{count}")
    for metric, text, value in (
        ("jobqueue_oldest_job_age_seconds", "How long the oldest queued job has waited (0 "
         "when the queue is empty).", lambda c: f"{c.oldest_age or 0:.3f}"),
        ("jobqueue_workers", "Live workers serving a queue.", lambda c: len(c.workers)),
        ("jobqueue_paused", "Whether no worker takes from a queue (1) or not (0).",
         lambda c: int(c.paused)),
    ):
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{queue="{_label(c.name)}"}} {value(c)}'
                  for c in found.counts if c.name not in found.unreachable]
    lines += ["# HELP jobqueue_worker_jobs_total Jobs a live worker has run since it started, "
              "by outcome.", "# TYPE jobqueue_worker_jobs_total counter"]
    # a pool once (its counts include its children's, ended ones' too), not its children
    for worker, _ in grouped(found.workers):
        name = _label(worker.name)
        lines.append(f'jobqueue_worker_jobs_total{{worker="{name}",outcome="succeeded"}} '
                     f"{worker.successful_job_count}")
        lines.append(f'jobqueue_worker_jobs_total{{worker="{name}",outcome="failed"}} '
                     f"{worker.failed_job_count}")
    lines += ["# HELP jobqueue_up Whether a Redis connection could be read (1) or not (0).",
              "# TYPE jobqueue_up gauge"]
    for name in sorted({data.connection_name(c.name) for c in found.counts}):
        lines.append(f'jobqueue_up{{connection="{_label(name)}"}} '
                     f"{0 if name in found.errors else 1}")
    return HttpResponse("\n".join(lines) + "\n",
                        content_type="text/plain; version=0.0.4; charset=utf-8")
