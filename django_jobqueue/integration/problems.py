"""What is wrong with JOBQUEUE, as the settings parsers note it (``manage.py check`` reports
each; settings.py, limit and retry parsers share these)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class SettingsProblem:
    """Something wrong with JOBQUEUE. ``manage.py check`` reports it as
    ``django_jobqueue.<code>``; a ``blocking`` one also makes the part it breaks raise
    ImproperlyConfigured when used (a non-blocking one, e.g. an unknown key, is ignored)."""

    code: str
    message: str
    hint: str
    blocking: bool = True

    def error(self) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"{self.message} {self.hint} (django_jobqueue.{self.code})")


def add(problems: list[SettingsProblem], code: str, message: str, hint: str,
        ) -> SettingsProblem:
    """Note a blocking problem; returns it."""
    problem = SettingsProblem(code, message, hint)
    problems.append(problem)
    return problem


def first_blocking(problems: list[SettingsProblem]) -> SettingsProblem | None:
    return next((p for p in problems if p.blocking), None)


def names(items: Iterable[Any]) -> str:
    """Sorted, comma-separated: for messages that list names."""
    return ", ".join(sorted(str(n) for n in items))
