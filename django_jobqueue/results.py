"""``django_jobqueue.results``: RQ's import path (``rq.results``) for the engine's names."""

from .engine.results import *  # noqa: F403
