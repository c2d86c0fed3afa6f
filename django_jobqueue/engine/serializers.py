"""Serializers (pickle, JSON, or any dotted path) and the HMAC signing of stored payloads.

Every payload the engine stores and later deserializes (a job's call, its meta, its results)
is signed; a payload whose signature does not match is never passed to a serializer.
"""

from __future__ import annotations

import hmac
import json
import os
import pickle
from typing import Any, Protocol, runtime_checkable

from .exceptions import DeserializationError, InvalidSignature, SerializationError
from .utils import import_attribute


@runtime_checkable
class Serializer(Protocol):
    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class PickleSerializer:
    """The default: any picklable Python object."""

    name = "pickle"

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(data: bytes) -> Any:
        return pickle.loads(data)


class JSONSerializer:
    """JSON: readable by other languages, limited to JSON types (tuples come back as lists)."""

    name = "json"

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    @staticmethod
    def loads(data: bytes) -> Any:
        return json.loads(data)


_ALIASES: dict[str, Any] = {
    "pickle": PickleSerializer,
    "json": JSONSerializer,
    "django_jobqueue.serializers.PickleSerializer": PickleSerializer,
    "django_jobqueue.serializers.JSONSerializer": JSONSerializer,
    "django_jobqueue.engine.serializers.PickleSerializer": PickleSerializer,
    "django_jobqueue.engine.serializers.JSONSerializer": JSONSerializer,
}

DEFAULT_SERIALIZER = PickleSerializer
_known: dict[str, Any] = {"pickle": PickleSerializer, "json": JSONSerializer}


def resolve_serializer(spec: Any = None) -> Any:
    """A serializer from None (pickle), an alias, a dotted path, a class or an instance.

    Resolving one also makes it known to :func:`stored_serializer` in this process.
    """
    if spec is None:
        return DEFAULT_SERIALIZER
    if isinstance(spec, str):
        if spec in _ALIASES:
            return _ALIASES[spec]
        try:
            spec = import_attribute(spec)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f"Unknown serializer {spec!r}: {exc}") from exc
    if not (callable(getattr(spec, "dumps", None)) and callable(getattr(spec, "loads", None))):
        raise ValueError(f"Serializer {spec!r} must have dumps() and loads()")
    _known.setdefault(serializer_path(spec), spec)
    return spec


def stored_serializer(path: str) -> Any:
    """The serializer a stored job names, if this process was configured with it.

    The name in Redis is not signed, so it is never imported from there: a worker reads jobs
    of a custom serializer only when its queues (or the worker) were given that serializer.
    """
    try:
        return _known[path]
    except KeyError:
        raise ValueError(f"Serializer {path!r} is not configured in this process") from None


def serializer_for(stored_name: str | None, fallback: Any = None) -> Any:
    """The serializer to read a stored job with: the one it names (an UnknownSerializer, whose
    reads fail saying why, when this process does not know it), else ``fallback``."""
    if not stored_name:
        return resolve_serializer(fallback)
    try:
        return stored_serializer(stored_name)
    except ValueError:
        return UnknownSerializer(stored_name)


def serializer_path(serializer: Any) -> str:
    """The name stored with a job so that a worker can load it with the same serializer."""
    for alias in ("pickle", "json"):
        if serializer is _ALIASES[alias]:
            return alias
    target = serializer if isinstance(serializer, type) else type(serializer)
    return f"{target.__module__}.{target.__qualname__}"


# --- signing ---------------------------------------------------------------------------

_VERSION = b"\x01"
_DIGEST_SIZE = 32
_DEFAULT_KEY = b"django-jobqueue: set a signing key (JOBQUEUE_SIGNING_KEY)"
_signing_key: bytes = os.environ.get("JOBQUEUE_SIGNING_KEY", "").encode() or _DEFAULT_KEY


def set_signing_key(key: str | bytes) -> None:
    """Set the HMAC key for every payload (the Django layer derives it from SECRET_KEY)."""
    global _signing_key
    if not key:
        raise ValueError("The signing key must not be empty")
    _signing_key = key.encode() if isinstance(key, str) else bytes(key)


def using_default_key() -> bool:
    return _signing_key == _DEFAULT_KEY


def _digest(context: bytes, data: bytes) -> bytes:
    return hmac.digest(_signing_key, context + b"\0" + data, "sha256")


def sign(data: bytes, context: bytes = b"") -> bytes:
    """``version + HMAC-SHA256(context, data) + data``; context binds the serializer's name."""
    return _VERSION + _digest(context, data) + data


def unsign(blob: bytes, context: bytes = b"") -> bytes:
    if not isinstance(blob, bytes) or len(blob) < 1 + _DIGEST_SIZE or blob[:1] != _VERSION:
        raise InvalidSignature("Stored payload is not a signed django-jobqueue payload")
    data = blob[1 + _DIGEST_SIZE :]
    if not hmac.compare_digest(blob[1 : 1 + _DIGEST_SIZE], _digest(context, data)):
        raise InvalidSignature(
            "Stored payload's signature does not match: it was tampered with, or signed with "
            "another key (the enqueuing code and the workers must share the signing key: "
            "JOBQUEUE_SIGNING_KEY or set_signing_key()); it was not deserialized"
        )
    return data


_contexts: dict[int, bytes] = {}


def _context(serializer: Any) -> bytes:
    """The serializer's name, bound into every signature (cached: this is a hot path)."""
    context = _contexts.get(id(serializer))
    if context is None:
        context = _contexts[id(serializer)] = serializer_path(serializer).encode()
    return context


def dumps_signed(serializer: Any, obj: Any) -> bytes:
    return sign(serializer.dumps(obj), _context(serializer))


def loads_signed(serializer: Any, blob: bytes) -> Any:
    if getattr(serializer, "unknown", False):
        return serializer.loads(blob)  # says which serializer is missing
    data = unsign(blob, _context(serializer))
    try:
        return serializer.loads(data)
    except Exception as exc:
        raise DeserializationError(
            f"Stored payload cannot be deserialized with {serializer_path(serializer)}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


class UnknownSerializer:
    """Stands in for a serializer this process does not know: reading raises, clearly."""

    unknown = True

    def __init__(self, path: str) -> None:
        self.path = path

    def dumps(self, obj: Any) -> bytes:
        raise SerializationError(f"Unknown serializer {self.path!r}")

    def loads(self, data: bytes) -> Any:
        raise DeserializationError(
            f"The job was stored with serializer {self.path!r}, which this process cannot load"
        )
