"""Queue counts for machines: a JSON document and Prometheus' text format. Staff with the
view permission may read them, and so may a scraper sending ``Authorization: Bearer
<JOBQUEUE["METRICS_TOKEN"]>`` (compared in constant time); anyone else gets 401."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from redis.exceptions import RedisError

from ..engine import keys
from ..engine.utils import decode_text
from ..engine.worker.info import grouped
from ..integration import settings
from ..integration.clients import get_client
from ..integration.overview import Overview, read_overview
from . import data, refs
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


@dataclass
class LimitsAndGroups:
    """What one connection's limits and groups hold now."""

    #: limit key -> (jobs waiting for it, jobs holding one of its concurrency slots)
    limits: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: groups whose callbacks have not run yet (a job of theirs has not ended)
    groups_pending: int = 0
    #: jobs of those groups that have not ended
    group_jobs_pending: int = 0


def _count(reply: Any) -> int:
    """A reply that should be a count; a corrupt one (an error, not a number) counts 0."""
    try:
        return max(0, int(reply)) if reply is not None else 0
    except (TypeError, ValueError):
        return 0


def read_limits_and_groups(found: Overview) -> dict[str, LimitsAndGroups]:
    """Per connection that could be read: two round trips, the names of its limit keys and
    groups, then the counts of each (a connection that fails now is added to the errors)."""
    out = {}
    for name in refs.connection_names():
        if name in found.errors:
            continue
        try:
            client = get_client(name)
            pipe = client.pipeline(transaction=False)
            pipe.hkeys(keys.limits())
            pipe.zrange(keys.groups(), 0, -1)
            limit_keys, group_names = (r if isinstance(r, list) else []
                                       for r in pipe.execute(raise_on_error=False))
            pipe = client.pipeline(transaction=False)
            for key in limit_keys:
                text = decode_text(key)
                pipe.zcard(keys.limit_waiting(text))
                pipe.scard(keys.limit_running(text))
            for group in group_names:
                pipe.hmget(keys.group(decode_text(group)), ["pending", "completed_at"])
            replies = pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            found.errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        except Exception as exc:  # noqa: BLE001 - a connection setting broken since
            found.errors[name] = f"{type(exc).__name__}: {exc}"  # the overview was read
            continue
        held = LimitsAndGroups()
        for n, key in enumerate(limit_keys):
            held.limits[decode_text(key)] = (_count(replies[2 * n]), _count(replies[2 * n + 1]))
        for reply in replies[2 * len(limit_keys):]:
            # an expired group (its name not yet dropped from the index) holds no fields
            if isinstance(reply, list) and reply[0] is not None and reply[1] is None:
                held.groups_pending += 1
                held.group_jobs_pending += _count(reply[0])
        out[name] = held
    return out


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
    held = read_limits_and_groups(found)
    limits = {name: {key: {"waiting": waiting, "running": running}
                     for key, (waiting, running) in h.limits.items()} for name, h in held.items()}
    groups = {name: {"pending": h.groups_pending, "jobs_pending": h.group_jobs_pending}
              for name, h in held.items()}
    return JsonResponse({"queues": queues, "workers": workers, "limits": limits,
                         "groups": groups, "errors": found.errors})


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
    held = read_limits_and_groups(found)
    for metric, text, position in (
        ("jobqueue_limit_waiting", "Jobs waiting for a limit key (over its rate or "
         "concurrency).", 0),
        ("jobqueue_limit_running", "Jobs holding one of a limit key's concurrency slots.", 1),
    ):
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{connection="{_label(name)}",limit="{_label(key)}"}} '
                  f"{counts[position]}"
                  for name, h in held.items() for key, counts in h.limits.items()]
    for metric, text, value in (
        ("jobqueue_groups_pending", "Groups whose callbacks have not run yet (a job of theirs "
         "has not ended).", lambda h: h.groups_pending),
        ("jobqueue_group_jobs_pending", "Jobs of those groups that have not ended.",
         lambda h: h.group_jobs_pending),
    ):
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{connection="{_label(name)}"}} {value(h)}'
                  for name, h in held.items()]
    lines += ["# HELP jobqueue_up Whether a Redis connection could be read (1) or not (0).",
              "# TYPE jobqueue_up gauge"]
    for name in sorted({data.connection_name(c.name) for c in found.counts}):
        lines.append(f'jobqueue_up{{connection="{_label(name)}"}} '
                     f"{0 if name in found.errors else 1}")
    return HttpResponse("\n".join(lines) + "\n",
                        content_type="text/plain; version=0.0.4; charset=utf-8")
