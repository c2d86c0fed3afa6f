"""Django for the tests under tests/django (settings: tests/django/settings.py; SQLite in
memory, plus PostgreSQL as the "pg" alias when JOBQUEUE_TEST_DATABASE_URL is set). JOBQUEUE
points at the harness's Redis per test. The engine's signing key and key prefix are restored
after each test, so the engine tests elsewhere see the values they expect."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator

import django
import pytest
from django.conf import settings
from django.test.utils import override_settings

from django_jobqueue.engine import keys, serializers


def _setup_django() -> None:
    previous = serializers._signing_key, keys.prefix()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.settings")
    django.setup()
    serializers._signing_key = previous[0]
    keys.set_prefix(previous[1])


_setup_django()  # at collection: test modules decorate functions with @job("high")


def jobqueue_settings(redis_url: str, **extra) -> dict:
    value = copy.deepcopy(settings.JOBQUEUE)
    value["CONNECTIONS"]["default"]["URL"] = redis_url
    value.update(extra)
    return value


@pytest.fixture(autouse=True)
def django_jobqueue(redis_url: str) -> Iterator[None]:
    """JOBQUEUE on the test Redis; engine globals restored afterwards."""
    from django_jobqueue.integration import clients

    previous = serializers._signing_key, keys.prefix()
    with override_settings(JOBQUEUE=jobqueue_settings(redis_url)):
        yield
    serializers._signing_key = previous[0]
    keys.set_prefix(previous[1])
    clients.reset()
