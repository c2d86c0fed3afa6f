"""The admin's "Queues", "Workers", "Periodic jobs", "Groups" and "Limits": their pages
replace the change list (nothing to configure beyond having the admin and this app
installed). The groups and limits pages live with the queues' (so that
``include("django_jobqueue.urls")`` has them too); their index entries lead there."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path

from ..models import Group, Limit, Periodic, Queue, Worker
from . import groups, limits, periodic, views
from .access import can_change, can_view
from .routes import page_patterns, periodic_patterns, workers_pattern


class _PagesAdmin(admin.ModelAdmin):
    """No add, no delete; view/change follow the Queue model's permissions."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_change(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_view(request.user)


@admin.register(Queue)
class QueueAdmin(_PagesAdmin):
    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        changelist = path("", site.admin_view(views.dashboard), {"site": site},
                          name="django_jobqueue_queue_changelist")
        history = path("<str:object_id>/change/", site.admin_view(views.object_redirect),
                       {"site": site}, name="django_jobqueue_queue_change")
        return [changelist, history, *page_patterns(site)]


@admin.register(Worker)
class WorkerAdmin(_PagesAdmin):
    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        changelist = path("", site.admin_view(views.workers_page), {"site": site},
                          name="django_jobqueue_worker_changelist")
        return [changelist, workers_pattern(site, "")]


@admin.register(Periodic)
class PeriodicAdmin(_PagesAdmin):
    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        changelist = path("", site.admin_view(periodic.periodic_page), {"site": site},
                          name="django_jobqueue_periodic_changelist")
        return [changelist, *periodic_patterns(site, "")]


@admin.register(Group)
class GroupAdmin(_PagesAdmin):
    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [path("", site.admin_view(groups.groups_index), {"site": site},
                     name="django_jobqueue_group_changelist")]


@admin.register(Limit)
class LimitAdmin(_PagesAdmin):
    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [path("", site.admin_view(limits.limits_index), {"site": site},
                     name="django_jobqueue_limit_changelist")]
