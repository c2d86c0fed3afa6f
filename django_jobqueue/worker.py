"""``django_jobqueue.worker``: RQ's import path (``rq.worker``) for the engine's names."""

from .engine.worker import *  # noqa: F403
