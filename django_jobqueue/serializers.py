"""``django_jobqueue.serializers``: RQ's import path (``rq.serializers``) for the engine's names."""

from .engine.serializers import *  # noqa: F403
