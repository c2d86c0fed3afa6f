"""``django_jobqueue.job``: RQ's import path (``rq.job``) for the engine's names."""

from .engine.job import *  # noqa: F403
