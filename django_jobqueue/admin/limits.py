"""The admin's "Limits" pages, per connection: every limit key with its definition (as the
last job enqueued with it declared it), its use now (starts in the current window against
the rate, jobs running against the concurrency) and how many jobs wait for it; and one
key's page with the jobs that wait (the next to be tried first) and those running.

Read with the engine's :func:`~django_jobqueue.engine.limits.all_limits`; a record that
cannot be read is shown as such, never a 500."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from redis import Redis
from redis.exceptions import ResponseError

from ..engine import keys
from ..engine.limits import LimitUse, all_limits
from ..engine.utils import decode_text
from . import refs
from .access import Links, can_view, guarded, page_context
from .data import NotFound
from .times import shown_time

#: waiting (and running) jobs one key's page lists
LISTED = 50


@dataclass
class LimitRow:
    use: LimitUse
    url: str | None

    @property
    def key(self) -> str:
        key = self.use.key
        return key if len(key) <= refs.NAME_SHOWN else key[:refs.NAME_SHOWN] + "…"

    @property
    def definition(self) -> str:
        return self.use.limit.describe() if self.use.limit else ""

    @property
    def rate(self) -> str:
        """``3 of 100 per 60 s`` (starts in the window, of the rate), or "" without one."""
        limit = self.use.limit
        if not limit or not limit.rate:
            return ""
        return f"{self.use.starts_in_window} of {limit.rate[0]} per {limit.rate[1]:g} s"

    @property
    def concurrency(self) -> str:
        """``1 of 5 running``, or "" without a concurrency limit."""
        limit = self.use.limit
        if not limit or not limit.concurrency:
            return ""
        return f"{self.use.running} of {limit.concurrency} running"


def _read_limits(client: Redis, problems: list[str]) -> list[LimitUse]:
    """Every limit key and its use, or none (saying why) when the record cannot be read."""
    try:
        return all_limits(client)
    except ResponseError as exc:  # a key of the wrong type
        problems.append(f"The record of limits ({keys.limits()}) cannot be read: {exc}")
    except (ValueError, KeyError) as exc:  # a key that is no UTF-8 text
        problems.append(f"The record of limits ({keys.limits()}) holds a key that is not "
                        f"text: {type(exc).__name__}")
    return []


@guarded(can_view)
def limits_index(request: HttpRequest, site: Any) -> HttpResponse:
    links = Links(request)
    return refs.connections_index(request, site, "Limits", links.limits)


@guarded(can_view)
def limits_page(request: HttpRequest, connection: str, site: Any) -> HttpResponse:
    client = refs.client_or_404(connection)
    links = Links(request)
    problems: list[str] = []
    rows = [LimitRow(use, links.limit_if_valid(connection, use.key))
            for use in _read_limits(client, problems)]
    return TemplateResponse(request, "django_jobqueue/limits.html", page_context(
        request, site, f"Limits on connection {connection}",
        trail=[("Limits", links.limits()), (connection, None)], connection=connection,
        rows=rows, problems=problems))


@guarded(can_view)
def limit_page(request: HttpRequest, connection: str, key: str, site: Any) -> HttpResponse:
    """The key's use, and the first jobs waiting for it (with when each is tried again) and
    running under it: the engine's three round trips, then two."""
    client = refs.client_or_404(connection)
    links = Links(request)
    problems: list[str] = []
    found = [use for use in _read_limits(client, problems) if use.key == key]
    if not found:
        raise NotFound(f"No limit key {key[:200]!r} on connection {connection!r}.")
    pipe = client.pipeline(transaction=False)
    pipe.zrange(keys.limit_waiting(key), 0, LISTED - 1, withscores=True)
    pipe.srandmember(keys.limit_running(key), LISTED)
    pipe.hget(keys.limits(), key)
    waiting, running, stored = pipe.execute(raise_on_error=False)
    if isinstance(waiting, Exception):
        problems.append(f"Its waiting list ({keys.limit_waiting(key)[:200]}) cannot be read: "
                        f"{waiting}")
        waiting = []
    if isinstance(running, Exception):
        problems.append(f"Its running set ({keys.limit_running(key)[:200]}) cannot be read: "
                        f"{running}")
        running = []
    row = LimitRow(found[0], None)
    if row.use.limit is None:
        stored = decode_text(stored) if isinstance(stored, bytes) else ""
        problems.append(f"Its definition is {stored[:200]!r} as stored: no rate "
                        "or concurrency can be read from it")
    waiting_ids = [job_id for job_id, _ in waiting]
    shown = refs.job_refs(client, connection, [*waiting_ids, *sorted(running)], links)
    waiting_rows = [(ref, shown_time(score))
                    for ref, (_, score) in zip(shown, waiting, strict=False)]
    return TemplateResponse(request, "django_jobqueue/limit.html", page_context(
        request, site, f"Limit {row.key}",
        trail=[("Limits", links.limits()), (connection, links.limits(connection)),
               (row.key, None)],
        connection=connection, row=row, problems=problems, waiting=waiting_rows,
        running=shown[len(waiting_ids):], listed=LISTED))
