"""The pages' URL patterns, shared by the admin (under admin/django_jobqueue/queue/) and by
``include("django_jobqueue.urls")``. Specific routes come first: ``-`` is never a state."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path

from . import actions, groups, limits, metrics, periodic, views


def page_patterns(site: Any) -> list[URLPattern]:
    wrap, extra = site.admin_view, {"site": site}
    return [
        path("-/stats.json", metrics.stats_json, extra, name="jobqueue_stats"),
        path("-/metrics", metrics.prometheus, extra, name="jobqueue_metrics"),
        path("-/find/<str:object_id>/", wrap(views.object_redirect), extra,
             name="jobqueue_find"),
        *group_and_limit_patterns(site),
        path("<str:queue>/-/<str:action>/", wrap(actions.queue_action), extra,
             name="jobqueue_queue_action"),
        path("<str:queue>/job/<str:job_id>/<str:action>/", wrap(actions.job_action), extra,
             name="jobqueue_job_action"),
        path("<str:queue>/job/<str:job_id>/", wrap(views.job_page), extra, name="jobqueue_job"),
        path("<str:queue>/<str:state>/", wrap(views.queue_page), extra,
             name="jobqueue_queue_state"),
        path("<str:queue>/", wrap(views.queue_page), extra, name="jobqueue_queue"),
        path("", wrap(views.dashboard), extra, name="jobqueue_dashboard"),
    ]


def group_and_limit_patterns(site: Any) -> list[URLPattern]:
    """The "Groups" and "Limits" pages, per connection (a limit key may hold ``/``)."""
    wrap, extra = site.admin_view, {"site": site}
    return [
        path("-/groups/", wrap(groups.groups_index), extra, name="jobqueue_groups_index"),
        path("-/groups/<str:connection>/", wrap(groups.groups_page), extra,
             name="jobqueue_groups"),
        path("-/groups/<str:connection>/<str:name>/", wrap(groups.group_page), extra,
             name="jobqueue_group"),
        path("-/groups/<str:connection>/<str:name>/<str:action>/", wrap(groups.group_action),
             extra, name="jobqueue_group_action"),
        path("-/limits/", wrap(limits.limits_index), extra, name="jobqueue_limits_index"),
        path("-/limits/<str:connection>/", wrap(limits.limits_page), extra,
             name="jobqueue_limits"),
        path("-/limits/<str:connection>/key/<path:key>/", wrap(limits.limit_page), extra,
             name="jobqueue_limit"),
    ]


def workers_pattern(site: Any, route: str) -> URLPattern:
    return path(route, site.admin_view(views.workers_page), {"site": site},
                name="jobqueue_workers")


def periodic_patterns(site: Any, route: str) -> list[URLPattern]:
    """The "Periodic jobs" page at ``route`` and its actions below it."""
    wrap, extra = site.admin_view, {"site": site}
    return [
        path(f"{route}<str:name>/<str:action>/", wrap(periodic.periodic_action), extra,
             name="jobqueue_periodic_action"),
        path(route, wrap(periodic.periodic_page), extra, name="jobqueue_periodic"),
    ]
