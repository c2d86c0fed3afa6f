"""System checks of the JOBQUEUE setting (``manage.py check``): every problem the settings
parser found (integration/settings.py), each with its own id."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from .integration import settings
from .integration.periodic_settings import unimportable


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [Error(problem.message, hint=problem.hint, obj="settings.JOBQUEUE",
                  id=f"django_jobqueue.{problem.code}")
            for problem in settings.load().problems]


@register()
def check_periodic_functions(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A periodic job whose FUNC cannot be imported (the parser never imports user code)."""
    return [Error(f"JOBQUEUE['PERIODIC'][{job.name!r}]: FUNC {job.func_name!r} cannot be "
                  f"imported ({reason}).", hint="Give the dotted path of a module-level "
                  "function that the workers can import.", obj="settings.JOBQUEUE",
                  id="django_jobqueue.E042")
            for job, reason in unimportable(settings.load().periodic)]
