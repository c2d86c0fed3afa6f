"""Who may see and do what, how an answer goes wrong without a 500, and the admin log."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import django
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..engine.queue import QUEUE_NAME_PATTERN
from .data import NotFound, valid_job_id

VIEW = "django_jobqueue.view_queue"
CHANGE_PERM = "django_jobqueue.change_queue"

logger = logging.getLogger("django_jobqueue.admin")


def can_view(user: Any) -> bool:
    return user.is_active and user.is_staff and (user.has_perm(VIEW) or user.has_perm(CHANGE_PERM))


def can_change(user: Any) -> bool:
    return user.is_active and user.is_staff and user.has_perm(CHANGE_PERM)


def guarded(permission: Callable[[Any], bool]) -> Callable:
    """A page or action: 403 without ``permission``; an unknown queue/job renders the
    admin's 404 page; an unreachable Redis a 503 page saying so. Never a 500 for those."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, site: Any, **kwargs: Any) -> HttpResponse:
            if not permission(request.user):
                return forbidden(request, site)
            try:
                return view(request, *args, site=site, **kwargs)
            except NotFound as exc:
                context = {**base_context(request, site, "Page not found"),
                           "message": str(exc), "links": Links(request)}
                return TemplateResponse(request, "django_jobqueue/404.html", context, status=404)
            except RedisError as exc:
                logger.warning("admin: Redis error on %s: %s", request.path, exc)
                unreachable = isinstance(exc, RedisConnectionError | RedisTimeoutError)
                title = "Redis is unreachable" if unreachable else "Redis answered with an error"
                context = {**base_context(request, site, title),
                           "message": f"{type(exc).__name__}: {exc}"}
                return TemplateResponse(request, "django_jobqueue/error.html", context,
                                        status=503)
        return wrapper

    return decorate


def forbidden(request: HttpRequest, site: Any) -> HttpResponse:
    """The admin-styled 403 page (the status is what matters; the look is for people)."""
    context = {**base_context(request, site, "Permission denied"),
               "message": "Your account may not see or change the job queues. Ask for the "
                          "“queue” view (or change) permission of the Job queue app."}
    return TemplateResponse(request, "django_jobqueue/403.html", context, status=403)


class Links:
    """URLs of the pages, wherever they are mounted (the admin, or include() elsewhere)."""

    def __init__(self, request: HttpRequest) -> None:
        match = request.resolver_match
        self.ns = match.namespace if match else ""

    def _reverse(self, name: str, *args: str) -> str:
        return reverse(f"{self.ns}:{name}" if self.ns else name, args=args)

    def dashboard(self) -> str:
        return self._reverse("jobqueue_dashboard")

    def workers(self) -> str:
        return self._reverse("jobqueue_workers")

    def periodic(self) -> str:
        return self._reverse("jobqueue_periodic")

    def periodic_action(self, name: str, action: str) -> str:
        return self._reverse("jobqueue_periodic_action", name, action)

    def groups(self, connection: str | None = None) -> str:
        """The groups of one connection (or the index of connections when None)."""
        if connection is None:
            return self._reverse("jobqueue_groups_index")
        return self._reverse("jobqueue_groups", connection)

    def group(self, connection: str, name: str) -> str:
        return self._reverse("jobqueue_group", connection, name)

    def group_action(self, connection: str, name: str, action: str) -> str:
        return self._reverse("jobqueue_group_action", connection, name, action)

    def group_if_valid(self, connection: str, name: str) -> str | None:
        """A group's page for a name read from Redis (None when it is no group name)."""
        return self.group(connection, name) if valid_job_id(name) else None

    def limits(self, connection: str | None = None) -> str:
        """The limits of one connection (or the index of connections when None)."""
        if connection is None:
            return self._reverse("jobqueue_limits_index")
        return self._reverse("jobqueue_limits", connection)

    def limit_if_valid(self, connection: str, key: str) -> str | None:
        """A limit key's page; None for a key read from Redis that no URL can hold (a
        newline, say): the page shows it as text."""
        try:
            return self._reverse("jobqueue_limit", connection, key)
        except NoReverseMatch:
            return None

    def queue(self, queue: str, state: str | None = None) -> str:
        if state:
            return self._reverse("jobqueue_queue_state", queue, state)
        return self._reverse("jobqueue_queue", queue)

    def job(self, queue: str, job_id: str) -> str:
        return self._reverse("jobqueue_job", queue, job_id)

    def job_urls(self, queue: str) -> Callable[[str], str | None]:
        """job id -> URL of its page, reversing once (a page of 500 rows); None for an id
        from Redis that is no job id (the page shows it as text)."""
        head, _, tail = self.job(queue, "JOBID0").rpartition("JOBID0")
        return lambda job_id: (head + job_id + tail) if valid_job_id(job_id) else None

    def job_if_valid(self, queue: str, job_id: str) -> str | None:
        """A stored id's page: only a valid job id becomes a link (anything else would not
        reverse, or would link somewhere else)."""
        return self.job(queue, job_id) if valid_job_id(job_id) else None

    def queue_if_valid(self, queue: str) -> str | None:
        """A queue's page for a queue name read from Redis (None: shown as text)."""
        return self.queue(queue) if QUEUE_NAME_PATTERN.fullmatch(queue) else None

    def state_urls(self, queue: str) -> Callable[[str], str]:
        """state -> URL of the queue's tab, reversing once."""
        head, _, tail = self.queue(queue, "STATE0").rpartition("STATE0")
        return lambda state: head + state + tail

    def find(self, object_id: str) -> str:
        """A job's page by id alone (its queue looked up when followed)."""
        return self._reverse("jobqueue_find", object_id)

    def find_if_valid(self, job_id: str) -> str | None:
        """:meth:`find` for a job id read from Redis (None when it is no job id)."""
        return self.find(job_id) if valid_job_id(job_id) else None

    def job_action(self, queue: str, job_id: str, action: str) -> str:
        return self._reverse("jobqueue_job_action", queue, job_id, action)

    def queue_action(self, queue: str, action: str) -> str:
        return self._reverse("jobqueue_queue_action", queue, action)


def log_actions(user: Any, entries: list[tuple[str, str]], deletion: bool = False) -> None:
    """One admin LogEntry per (object id, message): a job id, or a queue name."""
    from ..models import Queue

    content_type = ContentType.objects.get_for_model(Queue, for_concrete_model=False)
    LogEntry.objects.bulk_create([
        LogEntry(user_id=user.pk, content_type=content_type, object_id=object_id,
                 object_repr=object_id[:200], action_flag=DELETION if deletion else CHANGE,
                 change_message=message)
        for object_id, message in entries
    ])


#: Django 6's admin styles breadcrumbs as a list (<ol class="breadcrumbs">), 5.2's as a div
LIST_BREADCRUMBS = django.VERSION >= (6, 0)


def base_context(request: HttpRequest, site: Any, title: str,
                 trail: Sequence[tuple[str, str | None]] = ()) -> dict[str, Any]:
    """The admin's own context (header, sidebar, theme), the title, and the breadcrumbs:
    Home › Job queue › ``trail`` (label, URL or None), or › the title."""
    crumbs: list[tuple[str, str | None]] = []
    for label, name, args in (("Home", "admin:index", ()),
                              ("Job queue", "admin:app_list", ("django_jobqueue",))):
        try:
            crumbs.append((label, reverse(name, args=args)))
        except NoReverseMatch:  # mounted without the admin (include("django_jobqueue.urls"))
            pass
    return {**site.each_context(request), "title": title,
            "crumbs": [*crumbs, *(trail or [(title, None)])],
            "list_breadcrumbs": LIST_BREADCRUMBS}


def page_context(request: HttpRequest, site: Any, title: str,
                 trail: Sequence[tuple[str, str | None]] = (), **extra: Any) -> dict[str, Any]:
    """:func:`base_context` plus what every page uses."""
    from ..models import Queue

    return {**base_context(request, site, title, trail), "links": Links(request),
            "can_change": can_change(request.user), "opts": Queue._meta, **extra}
