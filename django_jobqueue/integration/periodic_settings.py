"""``JOBQUEUE["PERIODIC"]``: periodic jobs declared in settings, parsed into the engine's
:class:`~django_jobqueue.engine.periodic.PeriodicJob` (one problem with its own check id per
mistake; a broken entry is left out, the others still run).

    "PERIODIC": {
        "nightly-report": {"FUNC": "reports.tasks.build", "CRON": "0 3 * * *",
                           "TIMEZONE": "Europe/Paris", "QUEUE": "default"},
        "poll-feeds": {"FUNC": "feeds.tasks.poll", "EVERY": 30},
    }

``TIMEZONE`` defaults to Django's ``TIME_ZONE``; ``QUEUE`` to "default".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

from ..engine.periodic import CronUnavailable, PeriodicJob
from ..engine.periodic.clock import CRON_EXTRA, zone
from ..engine.periodic.spec import NAME_PATTERN, ScheduleError
from ..engine.utils import import_attribute
from .retry_settings import parse_retry

#: setting key -> PeriodicJob keyword
KEYS = {"FUNC": "func", "CRON": "cron", "EVERY": "every", "TIMEZONE": "timezone",
        "QUEUE": "queue", "ARGS": "args", "KWARGS": "kwargs", "ENABLED": "enabled",
        "MISSED": "missed", "OVERLAP": "overlap", "TIMEOUT": "timeout",
        "RESULT_TTL": "result_ttl", "FAILURE_TTL": "failure_ttl", "TTL": "ttl",
        "PRIORITY": "priority", "DESCRIPTION": "description", "RETRY": "retry"}
HINT = ('For example {"nightly": {"FUNC": "app.tasks.build", "CRON": "0 3 * * *"}} '
        '(see README.rst, Periodic jobs).')

#: (code, message, hint, blocking) -> the parser's SettingsProblem
Report = Callable[[str, str, str], None]


def parse_periodic(given: Any, queue_names: Mapping[str, Any], report: Report
                   ) -> tuple[PeriodicJob, ...]:
    """The periodic jobs JOBQUEUE['PERIODIC'] declares; each problem is ``report``ed."""
    if given is None:
        return ()
    if not isinstance(given, Mapping):
        report("E040", f"JOBQUEUE['PERIODIC'] must be a dict, not {type(given).__name__}.",
               HINT)
        return ()
    jobs = []
    for name, entry in given.items():
        job = _parse_entry(name, entry, queue_names, report)
        if job is not None:
            jobs.append(job)
    return tuple(jobs)


def _parse_entry(name: Any, entry: Any, queue_names: Mapping[str, Any],
                 report: Report) -> PeriodicJob | None:
    where = f"JOBQUEUE['PERIODIC'][{name!r}]"
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        report("E040", f"{where}: invalid name.", "Use 1 to 128 of [A-Za-z0-9_.:-].")
        return None
    if not isinstance(entry, Mapping):
        report("E040", f"{where} must be a dict.", HINT)
        return None
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        report("E040", f"{where}: unknown keys {', '.join(map(repr, unknown))}.",
               f"Known keys: {', '.join(KEYS)}.")
        return None
    if not isinstance(entry.get("FUNC"), str):
        report("E042", f"{where}: FUNC must be the dotted path of a function.",
               "For example 'reports.tasks.build'.")
        return None
    options = {KEYS[key]: value for key, value in entry.items()}
    options.setdefault("timezone", getattr(settings, "TIME_ZONE", None) or "UTC")
    queue = options.setdefault("queue", "default")
    if queue not in queue_names:
        report("E043", f"{where}: unknown queue {queue!r}.",
               f"Queues in JOBQUEUE['QUEUES']: {', '.join(map(repr, queue_names)) or 'none'}.")
        return None
    try:
        zone(options["timezone"])
    except ValueError as exc:
        report("E044", f"{where}: {exc}.", "Use an IANA name such as 'Europe/Paris'.")
        return None
    if "retry" in options:
        retry, problem = parse_retry(options["retry"])
        if problem:
            report("E046", f"{where}: RETRY {problem}.", HINT)
            return None
        options["retry"] = retry
    try:
        return PeriodicJob(name, **options)
    except CronUnavailable:
        report("E045", f"{where}: CRON needs croniter, which is not installed.",
               f"pip install '{CRON_EXTRA}', or use EVERY (seconds).")
    except ScheduleError as exc:
        report("E041", f"{where}: {exc}.", HINT)
    except (TypeError, ValueError) as exc:
        report("E046", f"{where}: {exc}.", HINT)
    return None


def unimportable(jobs: tuple[PeriodicJob, ...]) -> list[tuple[PeriodicJob, str]]:
    """The periodic jobs whose FUNC cannot be imported, each with the reason (a system
    check; the parser does not import user code)."""
    found = []
    for job in jobs:
        try:
            func = import_attribute(job.func_name)
        except Exception as exc:  # noqa: BLE001 - a module that fails to import, any way
            found.append((job, f"{type(exc).__name__}: {exc}"))
            continue
        if not callable(func):
            found.append((job, f"{job.func_name} is not callable"))
    return found

