"""The "Activity" charts of the dashboard (all queues together) and of a queue's page:
executions finished and failed, and the queue's depth, over the last hour (a bar a minute)
or the last day (a bar per 15 minutes), from the history the engine keeps in Redis
(engine/metrics.py).

Reads: per Redis server, one round trip for the history of all its queues and one for their
depth, whichever window. A server that cannot be read, or whose history cannot be parsed,
is named on the page; the charts show the others."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString

from ..engine.metrics import read_activity
from ..integration import settings
from ..integration.clients import get_client
from ..integration.overview import server_key  # connection names reaching one server: read once
from .charts import Axis, Bucket, bar_chart, line_chart, local_clock, short_number


@dataclass(frozen=True)
class Window:
    slug: str
    label: str
    #: minutes shown (the first bucket starts on a multiple of ``step`` minutes)
    minutes: int
    #: minutes per bucket
    step: int
    #: minutes between two labelled ticks, in local time
    tick: int
    per: str


WINDOWS = {
    "hour": Window("hour", "last hour", 60, 1, 10, "a minute"),
    "day": Window("day", "last day", 24 * 60, 15, 4 * 60, "in 15 minutes"),
}
DEFAULT_WINDOW = "hour"


@dataclass
class Chart:
    slug: str
    title: str
    summary: str
    svg: SafeString
    empty: bool


@dataclass
class Activity:
    window: Window
    charts: list[Chart]
    #: connection name -> why its queues are missing from the charts
    errors: dict[str, str] = field(default_factory=dict)
    #: (slug, label, URL, current) for each window
    switch: list[tuple[str, str, str, bool]] = field(default_factory=list)


@dataclass
class Series:
    """Per bucket: ended executions by outcome, and the queue depth (None: not sampled)."""

    starts: list[int]
    finished: list[int]
    failed: list[int]
    retried: list[int]
    depth: list[int | None]


def window_of(request: HttpRequest) -> Window:
    """The window asked for (``?window=day``); anything else is the last hour."""
    return WINDOWS.get(request.GET.get("window", ""), WINDOWS[DEFAULT_WINDOW])


def activity(request: HttpRequest, queue_names: Iterable[str],
             skip: Iterable[str] = (), now: float | None = None) -> Activity:
    """The charts of these queues summed (``skip``: queues already known unreachable)."""
    window = window_of(request)
    now = time.time() if now is None else now  # one "now" for every read and the sum
    skipped = set(skip)
    series, errors = read_series([name for name in queue_names if name not in skipped],
                                 window, now)
    for name in skipped:  # the page says why already; the charts say they lack them
        errors.setdefault(settings.load().queues[name].connection, "unreachable")
    total = _sum(series.values(), window, now)
    return Activity(window, _charts(total, window), errors, _switch(request, window))


def read_series(queue_names: list[str], window: Window, now: float | None = None
                ) -> tuple[dict[str, Series], dict[str, str]]:
    """queue -> its series; connection name -> error for those that could not be read."""
    now = time.time() if now is None else now
    first, minutes = _span(window, now)
    config = settings.load()
    servers: dict[Any, tuple[Any, list[str], list[str]]] = {}
    errors: dict[str, str] = {}
    for name in queue_names:
        connection = config.queues[name].connection
        try:
            client = get_client(connection)
        except Exception as exc:  # a bad connection setting (manage.py check says which)
            errors[connection] = f"{type(exc).__name__}: {exc}"
            continue
        _, connections, here = servers.setdefault(server_key(client), (client, [], []))
        if connection not in connections:
            connections.append(connection)
        here.append(name)
    found: dict[str, Series] = {}
    for client, connections, here in servers.values():
        try:
            activity = read_activity(client, here, minutes, now)  # one round trip
        except Exception as exc:  # unreachable, or a history the reader cannot parse:
            for connection in connections:  # the page says so and shows the rest
                errors[connection] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        for name in here:
            found[name] = _bucketed(activity[name].history, activity[name].depth, first,
                                    minutes, window)
    return found, errors


def _span(window: Window, now: float) -> tuple[int, int]:
    """(first minute shown, in epoch minutes; how many minutes up to the current one)."""
    last = int(now // 60)
    first = last - window.minutes + 1
    first -= first % window.step
    return first, last - first + 1


def _bucketed(history: list[Any], depth: list[tuple[int, int | None]], first: int,
              minutes: int, window: Window) -> Series:
    """Minutes into buckets of ``window.step`` minutes: counts summed, depth at its peak."""
    count = -(-minutes // window.step)
    series = Series([(first + n * window.step) * 60 for n in range(count)],
                    [0] * count, [0] * count, [0] * count, [None] * count)
    for minute in history:
        n = (minute.minute // 60 - first) // window.step
        if 0 <= n < count:
            series.finished[n] += minute.finished
            series.failed[n] += minute.failed
            series.retried[n] += minute.retried
    for minute, queued in depth:
        n = (minute // 60 - first) // window.step
        if 0 <= n < count and queued is not None:
            series.depth[n] = max(series.depth[n] or 0, queued)
    return series


def _sum(all_series: Iterable[Series], window: Window, now: float) -> Series:
    """The queues together (depth: of the queues sampled in that bucket)."""
    first, minutes = _span(window, now)
    total = _bucketed([], [], first, minutes, window)
    for series in all_series:
        for n in range(min(len(series.starts), len(total.starts))):
            total.finished[n] += series.finished[n]
            total.failed[n] += series.failed[n]
            total.retried[n] += series.retried[n]
            if series.depth[n] is not None:
                total.depth[n] = (total.depth[n] or 0) + series.depth[n]
    return total


def _charts(series: Series, window: Window) -> list[Chart]:
    axis = _axis(series.starts, window)
    bucket = "minute" if window.step == 1 else f"{window.step} minutes"
    charts = []
    for slug, title, values, unit, empty in (
        ("finished", f"Finished per {bucket}", series.finished, "finished",
         "no job finished"),
        ("failed", f"Failed per {bucket}", series.failed, "failed", "no job failed"),
    ):
        buckets = [Bucket(s, v) for s, v in zip(series.starts, values, strict=True)]
        total, peak = sum(values), max(values, default=0)
        summary = f"{total:,} in the {window.label}"
        if total:
            summary += f", at most {short_number(peak)} {window.per}"
        if slug == "failed" and sum(series.retried):
            summary += f"; {sum(series.retried):,} more failed and were retried"
        charts.append(Chart(slug, title, summary,
                            bar_chart(buckets, axis, f"{title}, {window.label}", unit, empty,
                                      kind=slug), not total))
    buckets = [Bucket(s, v) for s, v in zip(series.starts, series.depth, strict=True)]
    sampled = [v for v in series.depth if v is not None]
    if sampled:
        summary = f"{sampled[-1]:,} at the last sample, at most {short_number(max(sampled))}"
    else:
        summary = "not sampled (a worker serving a queue samples it once a minute)"
    title = "Queued jobs" + ("" if window.step == 1 else f" (peak per {bucket})")
    charts.append(Chart("depth", title, summary,
                        line_chart(buckets, axis, f"{title}, {window.label}", "queued",
                                   "no samples", kind="depth"), not sampled))
    return charts


def _axis(starts: list[int], window: Window) -> Axis:
    """Ticks where the local time is a multiple of ``window.tick`` minutes."""
    ticks = []
    for start in starts:
        when = timezone.localtime(datetime.fromtimestamp(start, dt_timezone.utc))
        if (when.hour * 60 + when.minute) % window.tick == 0:
            ticks.append(start)
    step = window.step * 60

    def span(start: int) -> str:
        return local_clock(start) if step == 60 else \
            f"{local_clock(start)}–{local_clock(start + step)}"

    return Axis(local_clock, span, ticks)


def _switch(request: HttpRequest, current: Window) -> list[tuple[str, str, str, bool]]:
    """Links to each window, keeping the rest of the query (page, order, search)."""
    links = []
    for window in WINDOWS.values():
        query = request.GET.copy()
        query["window"] = window.slug
        links.append((window.slug, window.label, "?" + query.urlencode(), window == current))
    return links
