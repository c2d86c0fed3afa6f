"""The admin pages, through Django's test client, against the session's real Redis.

The Django project is tests/django/settings.py (admin at /admin/, the pages also mounted at
/jobqueue/); its in-memory SQLite database is migrated once per session."""

# ruff: noqa: I001 (Django must be set up before its models are imported)
from __future__ import annotations

from collections.abc import Iterator

import pytest

# sets Django up, and brings its autouse fixture (JOBQUEUE on the test Redis) here too
from tests.django.conftest import django_jobqueue, jobqueue_settings  # noqa: F401

from django.contrib.admin.models import LogEntry  # noqa: E402 (Django is set up now)
from django.contrib.auth.models import Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402,F401

from django_jobqueue import get_queue  # noqa: E402

ADMIN = "/admin/django_jobqueue/queue/"


@pytest.fixture(scope="session")
def database() -> None:
    call_command("migrate", verbosity=0, database="default")


@pytest.fixture
def users(database) -> Iterator[dict[str, User]]:
    """superuser, viewer (view permission), operator (view + change), staff (no permission),
    outsider (not staff)."""
    perms = {p.codename: p
             for p in Permission.objects.filter(content_type__app_label="django_jobqueue")}
    # no passwords (force_login needs none): hashing them would cost seconds per test
    made = {
        "superuser": User.objects.create_superuser("root", "root@example.com", None),
        "viewer": User.objects.create_user("viewer", is_staff=True),
        "operator": User.objects.create_user("operator", is_staff=True),
        "staff": User.objects.create_user("staff", is_staff=True),
        "outsider": User.objects.create_user("outsider"),
    }
    made["viewer"].user_permissions.add(perms["view_queue"])
    made["operator"].user_permissions.add(perms["view_queue"], perms["change_queue"])
    yield made
    LogEntry.objects.all().delete()
    User.objects.all().delete()


from tests.admin.helpers import client_for  # noqa: E402,F401 (also importable from here)


@pytest.fixture
def admin_client(users) -> Client:
    return client_for(users["superuser"])


@pytest.fixture
def queue():
    return get_queue("default")
