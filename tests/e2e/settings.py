"""The browser tests' project: tests/django/settings.py plus a periodic job that never comes
due during a test (the Periodic jobs page has a row to show and act on)."""

from tests.django.settings import *  # noqa: F403
from tests.django.settings import JOBQUEUE

JOBQUEUE = {**JOBQUEUE, "PERIODIC": {
    "nightly-digest": {"FUNC": "tests.e2e.browser_jobs.wait_for", "ARGS": ["/nonexistent"],
                       "CRON": "0 3 * * *", "TIMEZONE": "Europe/Paris", "QUEUE": "low"},
}}
