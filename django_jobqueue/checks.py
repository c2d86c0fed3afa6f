"""System checks of the JOBQUEUE setting (``manage.py check``): every problem the settings
parser found (integration/settings.py), each with its own id."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from .integration import settings


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [Error(problem.message, hint=problem.hint, obj="settings.JOBQUEUE",
                  id=f"django_jobqueue.{problem.code}")
            for problem in settings.load().problems]
