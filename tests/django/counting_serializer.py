"""A pickle serializer that counts its ``dumps`` calls, for the tests of how often an enqueue
serializes a job (importable by dotted path, as a queue's SERIALIZER)."""

from __future__ import annotations

import pickle
from typing import Any


class CountingSerializer:
    dumps_calls = 0

    @classmethod
    def dumps(cls, obj: Any) -> bytes:
        cls.dumps_calls += 1
        return pickle.dumps(obj)

    @staticmethod
    def loads(data: bytes) -> Any:
        return pickle.loads(data)
