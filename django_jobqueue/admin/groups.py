"""The admin's "Groups" pages, per connection: the groups newest first (their progress and
how their jobs ended), and one group (its counts, its jobs' statuses now, its jobs, its
callbacks), with the operators' action: cancel the jobs that have not started (POST after
a confirmation page, change permission, logged).

A group's record is read as stored, field by field: a corrupt count or a key of the wrong
type is shown as such, and the rest of the page still renders."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from redis import Redis
from redis.exceptions import ResponseError

from ..engine import keys
from ..engine.fields import lenient_time
from ..engine.groups import CALLBACK_KINDS, ENDINGS, Group, GroupProgress
from ..engine.utils import decode_text
from . import refs
from .access import Links, can_change, can_view, guarded, log_actions, page_context
from .data import NotFound, valid_job_id
from .times import shown_time
from .views import _age, _int, _page_links

GROUPS_PER_PAGE = 25
JOBS_PER_PAGE = 50
#: the counts a group's hash keeps, in GroupProgress' order
COUNT_FIELDS = ("total", "pending", *(f"n_{e}" for e in ENDINGS))
ENDING_LABELS = {"finished": "Finished", "failed": "Failed", "stopped": "Stopped",
                 "canceled": "Canceled", "deleted": "Deleted"}
#: action slug -> (label, the question of the confirmation page)
ACTIONS = {"cancel": ("Cancel the group's jobs",
                      "Cancel every job of group {name} that has not started? Running jobs "
                      "go on; the group completes (its callbacks run) once they end.")}


@dataclass
class GroupRecord:
    """One group's hash as read: its counts (corrupt ones read 0, each named in
    ``problems``), or no counts at all when the key holds no hash."""

    name: str
    url: str | None
    progress: GroupProgress | None
    created: Any = None
    #: when its last job ended (a ShownTime), None while not completed
    completed: Any = None
    queue: str = ""
    callback_ids: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: the key is gone (an index entry whose group expired)
    gone: bool = False

    @property
    def percent(self) -> int:
        progress = self.progress
        return round(100 * progress.ended / progress.total) if progress and progress.total \
            else 0

    @property
    def endings(self) -> list[tuple[str, int]]:
        return [(e, getattr(self.progress, e)) for e in ENDINGS] if self.progress else []


def _type(reply: Any) -> str:
    return decode_text(reply) if isinstance(reply, bytes | str) else "unknown"


def _count(name: str, raw: bytes | None, problems: list[str]) -> int:
    if raw is None:  # the ending counts are made by the first job that ends so
        return 0
    try:
        return int(raw)
    except ValueError:
        problems.append(f"{name} is {decode_text(raw)[:60]!r}, not a count")
        return 0


def parse_record(name: str, url: str | None, key_type: str, raw: Any,
                 created_score: float | None = None) -> GroupRecord:
    """A group from its key's TYPE and its HGETALL reply (an error reply when no hash)."""
    if key_type == "none":
        return GroupRecord(name, None, None, created=shown_time(created_score), gone=True)
    if key_type != "hash" or not isinstance(raw, dict):
        return GroupRecord(name, url, None, created=shown_time(created_score), problems=[
            f"its record {keys.group(name)[:200]} is a {key_type}, not a hash: its counts "
            "cannot be read"])
    problems: list[str] = []
    counts = [_count(f, raw.get(f.encode()), problems) for f in COUNT_FIELDS]
    completed_raw = raw.get(b"completed_at")
    completed = shown_time(completed_raw)
    if completed is not None and completed.problem:  # still completed: its callbacks ran
        problems.append(f"completed_at is {completed.day!r}, not a time")
    created = shown_time(raw.get(b"created_at") or created_score)
    if created is not None and created.problem:
        problems.append(f"created_at is {created.day!r}, not a time")
    progress = GroupProgress(*counts, completed_at=lenient_time(completed_raw))
    callbacks = {k: decode_text(raw[f"job_{k}".encode()]) for k in CALLBACK_KINDS
                 if f"job_{k}".encode() in raw}
    return GroupRecord(name, url, progress, created=created, completed=completed,
                       queue=decode_text(raw.get(b"queue")) or "default",
                       callback_ids=callbacks, problems=problems)


#: no page number past this (its offset stays an integer Redis takes)
MAX_PAGE = 2**40


def _requested_page(request: HttpRequest) -> int:
    return min(max(1, _int(request.GET.get("page"), 1)), MAX_PAGE)


def _clamped(page: int, total: int, per_page: int) -> tuple[int, int]:
    """(page, pages): a page past the last is the last."""
    pages = max(1, math.ceil(total / per_page))
    return min(page, pages), pages


# --------------------------------------------------------------------------- the list


@guarded(can_view)
def groups_index(request: HttpRequest, site: Any) -> HttpResponse:
    links = Links(request)
    return refs.connections_index(request, site, "Groups", links.groups)


@guarded(can_view)
def groups_page(request: HttpRequest, connection: str, site: Any) -> HttpResponse:
    """A page of groups, newest first: two round trips, however many groups there are."""
    client = refs.client_or_404(connection)
    links = Links(request)
    problems: list[str] = []
    asked = _requested_page(request)
    total, entries = _index_page(client, (asked - 1) * GROUPS_PER_PAGE, GROUPS_PER_PAGE,
                                 problems)
    page, pages = _clamped(asked, total, GROUPS_PER_PAGE)
    if page != asked:  # past the last page: the last one, read again
        total, entries = _index_page(client, (page - 1) * GROUPS_PER_PAGE, GROUPS_PER_PAGE,
                                     problems)
    names = [decode_text(n) for n, _ in entries]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.type(keys.group(name))
        pipe.hgetall(keys.group(name))
    replies = pipe.execute(raise_on_error=False)
    rows = [parse_record(name[:refs.NAME_SHOWN], links.group_if_valid(connection, name),
                         _type(replies[2 * n]), replies[2 * n + 1], score)
            for n, (name, (_, score)) in enumerate(zip(names, entries, strict=True))]
    return TemplateResponse(request, "django_jobqueue/groups.html", page_context(
        request, site, f"Groups on connection {connection}",
        trail=[("Groups", links.groups()), (connection, None)], connection=connection,
        rows=rows, problems=problems, total=total, page=page, pages=pages,
        page_links=_page_links(request, page, pages), endings=ENDING_LABELS))


def _index_page(client: Redis, offset: int, length: int,
                problems: list[str]) -> tuple[int, list[tuple[bytes, float]]]:
    pipe = client.pipeline(transaction=False)
    pipe.zcard(keys.groups())
    pipe.zrevrange(keys.groups(), offset, offset + length - 1, withscores=True)
    total, entries = pipe.execute(raise_on_error=False)
    if isinstance(total, Exception) or isinstance(entries, Exception):
        problems.append(f"The index of groups ({keys.groups()}) is not a sorted set: "
                        f"{total if isinstance(total, Exception) else entries}")
        return 0, []
    return total, entries


# --------------------------------------------------------------------------- one group


def _name_or_404(name: str) -> str:
    if not valid_job_id(name):
        raise NotFound(f"{name[:200]!r} is not a group name.")
    return name


@guarded(can_view)
def group_page(request: HttpRequest, connection: str, name: str, site: Any) -> HttpResponse:
    """Four round trips: the group and a page of its job ids, the status of every one of its
    jobs (live), then the status of the jobs shown."""
    client = refs.client_or_404(connection)
    _name_or_404(name)
    links = Links(request)
    asked = _requested_page(request)
    offset = (asked - 1) * JOBS_PER_PAGE
    record, job_total, job_ids, ttl, problems = _read_group(client, connection, name, links,
                                                            offset)
    page, pages = _clamped(asked, job_total, JOBS_PER_PAGE)
    if page != asked:  # past the last page: the last one, read again
        offset = (page - 1) * JOBS_PER_PAGE
        record, job_total, job_ids, ttl, problems = _read_group(client, connection, name,
                                                                links, offset)
    problems = record.problems + problems
    statuses = _live_statuses(client, name, problems)
    callback_ids = list(record.callback_ids.values())
    shown = refs.job_refs(client, connection, [*job_ids, *callback_ids], links)
    jobs = list(zip(range(offset + 1, offset + len(job_ids) + 1), shown[:len(job_ids)],
                    strict=True))
    callbacks = _callbacks(record, dict(zip(record.callback_ids, shown[len(job_ids):],
                                            strict=True)))
    completed = record.completed is not None
    return TemplateResponse(request, "django_jobqueue/group.html", page_context(
        request, site, f"Group {name}",
        trail=[("Groups", links.groups()), (connection, links.groups(connection)),
               (name, None)],
        connection=connection, group=record, problems=problems, statuses=statuses,
        jobs=jobs, job_total=job_total, page=page, pages=pages,
        page_links=_page_links(request, page, pages), callbacks=callbacks,
        completed=completed, expires_in=_age(ttl) if completed and ttl and ttl > 0 else "",
        cancel_url=links.group_action(connection, name, "cancel")
        if not completed else None, endings=ENDING_LABELS,
    ))


def _read_group(client: Redis, connection: str, name: str, links: Links, offset: int = 0
                ) -> tuple[GroupRecord, int, list[bytes], int | None, list[str]]:
    """One round trip: the group's record, how many jobs it lists, a page of their ids, and
    how long the record is kept. 404 when there is no such group."""
    pipe = client.pipeline(transaction=False)
    pipe.type(keys.group(name))
    pipe.hgetall(keys.group(name))
    pipe.ttl(keys.group(name))
    pipe.zcard(keys.group_jobs(name))
    pipe.zrange(keys.group_jobs(name), offset, offset + JOBS_PER_PAGE - 1)
    key_type, raw, ttl, total, ids = pipe.execute(raise_on_error=False)
    record = parse_record(name, links.group(connection, name), _type(key_type), raw)
    if record.gone:
        raise NotFound(f"No group {name!r} on connection {connection!r} (it may have "
                       "expired or been deleted).")
    problems = []
    if isinstance(total, Exception) or isinstance(ids, Exception):
        problems.append(f"Its list of jobs ({keys.group_jobs(name)[:200]}) is not a sorted "
                        "set: its jobs cannot be listed")
        total, ids = 0, []
    return record, total, ids, ttl if isinstance(ttl, int) else None, problems


def _live_statuses(client: Redis, name: str, problems: list[str]) -> list[tuple[str, int]]:
    """The group's jobs per status now (the engine's get_status), most first."""
    try:
        counts = Group(client, name).get_status()
    except (ValueError, ResponseError) as exc:  # a key of the wrong type; bytes not UTF-8
        problems.append(f"The statuses of its jobs cannot be read: {type(exc).__name__}: "
                        f"{str(exc)[:200]}")
        return []
    return sorted(((s[:40], n) for s, n in counts.items()), key=lambda item: -item[1])


@dataclass
class CallbackRow:
    kind: str
    job: refs.JobRef
    #: what the page says instead of a status when its job does not exist (yet)
    note: str


def _callbacks(record: GroupRecord, jobs: dict[str, refs.JobRef]) -> list[CallbackRow]:
    """Each callback: its job once the group completed, else when (or why not) it runs."""
    progress = record.progress
    completed = record.completed is not None
    all_finished = progress is not None and progress.finished == progress.total
    rows = []
    for kind, job in jobs.items():
        note = ""
        if job.status is None:
            if not completed:
                note = "runs when the group completes"
            elif kind == "on_success" and not all_finished:
                note = "did not run: not every job finished"
            elif kind == "on_failure" and all_finished:
                note = "did not run: every job finished"
            else:
                note = "gone (its job expired or was deleted)"
            job.url = None
        rows.append(CallbackRow(kind, job, note))
    return rows


# --------------------------------------------------------------------------- cancel


@guarded(can_change)
def group_action(request: HttpRequest, connection: str, name: str, action: str,
                 site: Any) -> HttpResponse:
    """GET: the confirmation page; POST with ``confirm=yes``: cancel the group's jobs that
    have not started (one round trip), logged."""
    client = refs.client_or_404(connection)
    _name_or_404(name)
    if action not in ACTIONS:
        raise NotFound(f"{action!r} is not an action on groups.")
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if client.type(keys.group(name)) == b"none":
        raise NotFound(f"No group {name!r} on connection {connection!r} (it may have "
                       "expired or been deleted).")
    links = Links(request)
    back = links.group(connection, name)
    label, question = ACTIONS[action]
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            canceled = Group(client, name).cancel()
        except ValueError as exc:  # an id in its list that is no text
            messages.error(request, f"Group {name}: its jobs cannot be read "
                                    f"({type(exc).__name__}); nothing was canceled.")
            return HttpResponseRedirect(back)
        log_actions(request.user, [(name, f"Canceled {canceled} job"
                                          f"{'' if canceled == 1 else 's'} of group {name} "
                                          f"(connection {connection}).")])
        messages.success(request, f"Group {name}: {canceled} job"
                                  f"{'' if canceled == 1 else 's'} canceled. Jobs that had "
                                  "started go on; the group completes once they end.")
        return HttpResponseRedirect(back)
    return TemplateResponse(request, "django_jobqueue/confirm.html", page_context(
        request, site, label,
        trail=[("Groups", links.groups()), (connection, links.groups(connection)),
               (name, back), (label, None)],
        action={"slug": action, "label": label}, question=question.format(name=name),
        cancel_url=back))

