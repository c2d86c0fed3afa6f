"""A Retry given in settings, as a dict: a queue's default (``JOBQUEUE["QUEUES"][name]
["RETRY"]``) and the tasks backend's (``TASKS[alias]["OPTIONS"]["RETRY"]``).

    {"MAX": 5, "INTERVAL": 10, "BACKOFF": 2, "MAX_INTERVAL": 3600, "JITTER": True,
     "ON": ["requests.ConnectionError", "TimeoutError"]}

Each key is the ``Retry`` argument of that name; only ``MAX`` is required. ``ON`` takes
dotted names (a bare builtin name such as ``"TimeoutError"`` works too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.retries import Retry

#: setting key -> Retry's argument
RETRY_KEYS = {"MAX": "max", "INTERVAL": "interval", "BACKOFF": "backoff",
              "MAX_INTERVAL": "max_interval", "JITTER": "jitter", "ON": "on"}
RETRY_HINT = ('For example {"MAX": 5, "INTERVAL": 10, "BACKOFF": 2, "ON": '
              '["requests.ConnectionError"]} (see README.rst, Retries).')


def parse_retry(given: Any) -> tuple[Retry | None, str | None]:
    """(the Retry, None), or (None, what is wrong: a sentence without its final stop)."""
    if isinstance(given, Retry):
        return given, None
    if not isinstance(given, Mapping):
        return None, f"must be a dict such as {{'MAX': 3}} or a Retry, not {given!r}"
    unknown = sorted(str(k) for k in set(given) - set(RETRY_KEYS))
    if unknown:
        return None, (f"has unknown keys {', '.join(unknown)} (known: "
                      f"{', '.join(RETRY_KEYS)})")
    if "MAX" not in given:
        return None, "needs MAX, the number of retries"
    options = {RETRY_KEYS[key]: value for key, value in given.items()}
    try:
        return Retry(**options), None
    except (TypeError, ValueError) as exc:
        return None, str(exc)

