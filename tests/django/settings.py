"""Settings of the Django test project (also used by worker subprocesses of the tests)."""

import os
from urllib.parse import urlparse

SECRET_KEY = "django-jobqueue-tests"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_jobqueue"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

_pg = os.environ.get("JOBQUEUE_TEST_DATABASE_URL", "")
if _pg:
    _url = urlparse(_pg)
    DATABASES["pg"] = {
        "ENGINE": "django.db.backends.postgresql", "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "", "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "", "PORT": _url.port or "",
    }

JOBQUEUE = {
    # the tests point this at the harness's Redis (override_settings, or the environment
    # for worker subprocesses)
    "CONNECTIONS": {"default": {"URL": os.environ.get("JOBQUEUE_URL", "redis://127.0.0.1:1/0")}},
    "QUEUES": {"default": {}, "high": {}, "low": {}},
}
