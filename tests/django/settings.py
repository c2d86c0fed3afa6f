"""Settings of the Django test project (also used by worker subprocesses of the tests and by
the browser tests' ``runserver``)."""

import os
from urllib.parse import urlparse

SECRET_KEY = "django-jobqueue-tests"
USE_TZ = True
DEBUG = os.environ.get("JOBQUEUE_TEST_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_jobqueue",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.django.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "/static/"
# a file when a separate server process must share it (the browser tests), else in memory
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("JOBQUEUE_TEST_SQLITE", ":memory:")}}

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
if os.environ.get("JOBQUEUE_TEST_METRICS_TOKEN"):
    JOBQUEUE["METRICS_TOKEN"] = os.environ["JOBQUEUE_TEST_METRICS_TOKEN"]
