"""``django_jobqueue.exceptions``: RQ's import path (``rq.exceptions``) for the engine's names."""

from .engine.exceptions import *  # noqa: F403
