"""``django_jobqueue.results``: RQ's import path (``rq.results``) for the engine's names."""

from .engine import Result

__all__ = ["Result"]
