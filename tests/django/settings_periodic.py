"""tests/django/settings.py with a 1-second periodic job (runworker subprocess tests)."""

from tests.django.settings import *  # noqa: F403
from tests.django.settings import JOBQUEUE

JOBQUEUE = {**JOBQUEUE, "PERIODIC": {
    "every-second": {"FUNC": "tests.django.periodic_jobs.record", "EVERY": 1},
    "nightly": {"FUNC": "tests.django.periodic_jobs.record", "CRON": "0 3 * * *",
                "TIMEZONE": "Europe/Paris", "QUEUE": "low"},
}}
