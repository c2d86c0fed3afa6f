"""``django_jobqueue.queue``: RQ's import path (``rq.queue``) for the engine's names."""

from .engine.queue import *  # noqa: F403
