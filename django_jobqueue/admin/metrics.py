"""Queue counts for machines: a JSON document and Prometheus' text format (0.0.4). Staff
with the view permission may read them, and so may a scraper sending ``Authorization:
Bearer <JOBQUEUE["METRICS_TOKEN"]>`` (compared in constant time); anyone else gets 401.

Besides gauges of what the queues hold now, both give the cumulative counters the engine
keeps in Redis (engine/metrics.py): per queue and function, executions by outcome and a
run-time histogram. They survive worker restarts, so Prometheus' ``rate()`` over them is
right; they are read in the round trip that reads the limits and groups (no extra one)."""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from redis.exceptions import RedisError

from ..engine import keys
from ..engine import metrics as engine_metrics
from ..engine.utils import decode_text
from ..engine.worker.info import grouped
from ..integration import settings
from ..integration.clients import get_client
from ..integration.overview import Overview, read_overview
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


@dataclass
class ConnectionReadings:
    """What one connection's limits, groups and cumulative counters hold now."""

    #: limit key -> (jobs waiting for it, jobs holding one of its concurrency slots)
    limits: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: groups whose callbacks have not run yet (a job of theirs has not ended)
    groups_pending: int = 0
    #: jobs of those groups that have not ended
    group_jobs_pending: int = 0
    #: queue -> function -> its counts since the counters began (this connection's queues)
    counters: dict[str, dict[str, engine_metrics.FunctionStats]] = field(default_factory=dict)


def _count(reply: Any) -> int:
    """A reply that should be a count; a corrupt one (an error, not a number) counts 0."""
    try:
        return max(0, int(reply)) if reply is not None else 0
    except (TypeError, ValueError):
        return 0


def queues_by_connection() -> dict[str, list[str]]:
    """connection name -> the configured queues on it, in JOBQUEUE['QUEUES'] order."""
    out: dict[str, list[str]] = {}
    for name, queue in settings.load().queues.items():
        out.setdefault(queue.connection, []).append(name)
    return out


def _function_stats(queue: str, reply: Any) -> dict[str, engine_metrics.FunctionStats]:
    """A queue's metrics hash as read (a corrupt one: nothing); a negative count, which
    only a hand-written value can be, counts 0 so that the histogram stays cumulative."""
    if not isinstance(reply, dict):
        return {}
    # engine.metrics parses it as read_counters does: this reply shares a pipeline with the
    # limits and groups, so that the counters cost no round trip of their own
    found = engine_metrics.parse_counters(queue, reply)
    for stats in found.values():
        stats.counts = {outcome: max(0, n) for outcome, n in stats.counts.items()}
        stats.buckets = [max(0, n) for n in stats.buckets]
        stats.total_us = max(0, stats.total_us)
    return found


def read_connections(found: Overview) -> dict[str, ConnectionReadings]:
    """Per connection that could be read: two round trips, the names of its limit keys and
    groups with the cumulative counters of its queues, then the counts of each limit and
    group (a connection that fails now is added to the errors)."""
    out = {}
    for name, queue_names in queues_by_connection().items():
        if name in found.errors:
            continue
        try:
            client = get_client(name)
            pipe = client.pipeline(transaction=False)
            pipe.hkeys(keys.limits())
            pipe.zrange(keys.groups(), 0, -1)
            for queue_name in queue_names:
                pipe.hgetall(keys.metrics(queue_name))
            first = pipe.execute(raise_on_error=False)
            limit_keys, group_names = (r if isinstance(r, list) else [] for r in first[:2])
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
        held = ConnectionReadings()
        for n, key in enumerate(limit_keys):
            held.limits[decode_text(key)] = (_count(replies[2 * n]), _count(replies[2 * n + 1]))
        for reply in replies[2 * len(limit_keys):]:
            # an expired group (its name not yet dropped from the index) holds no fields
            if isinstance(reply, list) and reply[0] is not None and reply[1] is None:
                held.groups_pending += 1
                held.group_jobs_pending += _count(reply[0])
        held.counters = {queue_name: _function_stats(queue_name, reply)
                         for queue_name, reply in zip(queue_names, first[2:], strict=True)}
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
    held = read_connections(found)
    limits = {name: {key: {"waiting": waiting, "running": running}
                     for key, (waiting, running) in h.limits.items()} for name, h in held.items()}
    groups = {name: {"pending": h.groups_pending, "jobs_pending": h.group_jobs_pending}
              for name, h in held.items()}
    return JsonResponse({"queues": queues, "workers": workers, "limits": limits,
                         "groups": groups, "totals": _totals(held), "errors": found.errors})


def _totals(held: dict[str, ConnectionReadings]) -> dict[str, Any]:
    """queue -> function -> its cumulative counts, run time and percentiles (None without
    runs); a queue whose connection could not be read is None (unknown, not zero)."""
    out: dict[str, Any] = {}
    for connection, queue_names in queues_by_connection().items():
        readings = held.get(connection)
        for name in queue_names:
            if readings is None:
                out[name] = None
                continue
            out[name] = {func: {
                **stats.counts, "runs": stats.runs, "seconds": round(stats.seconds, 6),
                "p50": _rounded(stats.percentile(0.5)), "p95": _rounded(stats.percentile(0.95)),
            } for func, stats in sorted(readings.counters.get(name, {}).items())}
    return out


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 6)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _go_float(value: float) -> str:
    """A float as Prometheus' clients write it (client_python's floatToGoString): "+Inf",
    "0.005", "1.0", and Go's exponent form where Python's repr would still write digits."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


def _family(metric: str, kind: str, text: str) -> list[str]:
    return [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]


def _counter_lines(held: dict[str, ConnectionReadings]) -> list[str]:
    """The cumulative counters: executions by outcome, and the run-time histogram."""
    every = [(queue, func, stats) for h in held.values()
             for queue, functions in h.counters.items()
             for func, stats in sorted(functions.items())]
    lines = _family("jobqueue_jobs_total", "counter",
                    "Executions that ended, per queue, function and outcome (finished; retried: "
                    "failed, to run again; failed: for good; stopped). Kept in Redis: workers "
                    "restarting never reset them.")
    for queue, func, stats in every:
        where = f'queue="{_label(queue)}",function="{_label(func)}"'
        lines += [f'jobqueue_jobs_total{{{where},outcome="{outcome}"}} {stats.counts[outcome]}'
                  for outcome in engine_metrics.OUTCOMES]
    metric = "jobqueue_job_duration_seconds"
    lines += _family(metric, "histogram",
                     "How long executions ran, per queue and function (those whose run time is "
                     "known: not a job whose worker was lost). Kept in Redis.")
    for queue, func, stats in every:
        where = f'queue="{_label(queue)}",function="{_label(func)}"'
        lines += [f'{metric}_bucket{{{where},le="{_go_float(bound)}"}} {runs}'
                  for bound, runs in stats.cumulative()]
        lines.append(f"{metric}_sum{{{where}}} {_go_float(stats.seconds)}")
        lines.append(f"{metric}_count{{{where}}} {stats.runs}")
    return lines


@never_cache
def prometheus(request: HttpRequest, site: Any, **_: Any) -> HttpResponse:
    if not _allowed(request, site):
        return _unauthorized()
    found = read_overview()  # a connection it cannot read is reported in it
    lines = _family("jobqueue_jobs", "gauge", "Jobs of a queue, by state.")
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
        lines += _family(metric, "gauge", text)
        lines += [f'{metric}{{queue="{_label(c.name)}"}} {value(c)}'
                  for c in found.counts if c.name not in found.unreachable]
    lines += _family("jobqueue_worker_jobs_total", "counter",
                     "Jobs a live worker has run since it started, by outcome. It starts again "
                     "from 0 when the worker restarts: for rates use jobqueue_jobs_total.")
    # a pool once (its counts include its children's, ended ones' too), not its children
    for worker, _ in grouped(found.workers):
        name = _label(worker.name)
        lines.append(f'jobqueue_worker_jobs_total{{worker="{name}",outcome="succeeded"}} '
                     f"{worker.successful_job_count}")
        lines.append(f'jobqueue_worker_jobs_total{{worker="{name}",outcome="failed"}} '
                     f"{worker.failed_job_count}")
    held = read_connections(found)
    lines += _counter_lines(held)
    for metric, text, position in (
        ("jobqueue_limit_waiting", "Jobs waiting for a limit key (over its rate or "
         "concurrency).", 0),
        ("jobqueue_limit_running", "Jobs holding one of a limit key's concurrency slots.", 1),
    ):
        lines += _family(metric, "gauge", text)
        lines += [f'{metric}{{connection="{_label(name)}",limit="{_label(key)}"}} '
                  f"{counts[position]}"
                  for name, h in held.items() for key, counts in h.limits.items()]
    for metric, text, value in (
        ("jobqueue_groups_pending", "Groups whose callbacks have not run yet (a job of theirs "
         "has not ended).", lambda h: h.groups_pending),
        ("jobqueue_group_jobs_pending", "Jobs of those groups that have not ended.",
         lambda h: h.group_jobs_pending),
    ):
        lines += _family(metric, "gauge", text)
        lines += [f'{metric}{{connection="{_label(name)}"}} {value(h)}'
                  for name, h in held.items()]
    lines += _family("jobqueue_up", "gauge",
                     "Whether a Redis connection could be read (1) or not (0).")
    for name in sorted({data.connection_name(c.name) for c in found.counts}):
        lines.append(f'jobqueue_up{{connection="{_label(name)}"}} '
                     f"{0 if name in found.errors else 1}")
    return HttpResponse("\n".join(lines) + "\n",
                        content_type="text/plain; version=0.0.4; charset=utf-8")
