"""``django_jobqueue.group``: RQ's import path (``rq.group``) for Group."""

from .engine import Group, GroupCompleted, NoSuchGroupError

__all__ = ["Group", "GroupCompleted", "NoSuchGroupError"]
