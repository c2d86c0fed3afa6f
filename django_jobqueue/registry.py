"""``django_jobqueue.registry``: RQ's import path (``rq.registry``) for the engine's names."""

from .engine.registry import *  # noqa: F403
