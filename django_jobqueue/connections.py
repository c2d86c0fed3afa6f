"""``django_jobqueue.connections``: RQ's import path (``rq.connections``) for the engine's names."""

from .engine.connections import *  # noqa: F403
