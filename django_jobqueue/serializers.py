"""``django_jobqueue.serializers``: RQ's import path (``rq.serializers``) for the engine's names."""

from .engine import JSONSerializer, PickleSerializer
from .engine.serializers import Serializer, resolve_serializer

__all__ = ["JSONSerializer", "PickleSerializer", "Serializer", "resolve_serializer"]
