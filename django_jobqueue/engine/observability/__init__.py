"""The middlewares shipped with the engine (middleware.py): each is installed when its
library is importable, and checks, when it fires, whether that library is set up."""

from __future__ import annotations

import importlib.util
from typing import Any


def default_middlewares() -> list[Any]:
    found: list[Any] = []
    return found


def importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
