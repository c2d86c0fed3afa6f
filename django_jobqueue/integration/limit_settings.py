"""A queue's default limit in settings (limits.py): ``JOBQUEUE["QUEUES"][name]`` may give

    {"RATE_LIMIT": "10/s", "CONCURRENCY_LIMIT": 2, "LIMIT_KEY": "stripe-api"}

Every job enqueued on that queue without a limit of its own gets it. Without ``LIMIT_KEY``
the key is ``queue/<name>``: the queue's jobs share one quota, whatever their function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.limits import RateLimit

LIMIT_HINT = ('For example "RATE_LIMIT": "10/s" (starts per period: s, m, h or d) and '
              '"CONCURRENCY_LIMIT": 2 (see README.rst, Rate limits and concurrency limits).')


def parse_limit(given: Mapping[str, Any], queue: str) -> tuple[RateLimit | None, str | None]:
    """(the queue's limit or None, None), or (None, what is wrong, naming the key)."""
    rate, slots, key = (given.get(k) for k in ("RATE_LIMIT", "CONCURRENCY_LIMIT", "LIMIT_KEY"))
    if rate is None and slots is None:
        return None, ("LIMIT_KEY needs RATE_LIMIT or CONCURRENCY_LIMIT"
                      if key is not None else None)
    try:
        return RateLimit(key=key if key is not None else "queue/" + queue, concurrency=slots,
                         rate=rate), None
    except (TypeError, ValueError) as exc:
        names = "/".join(k for k in ("RATE_LIMIT", "CONCURRENCY_LIMIT", "LIMIT_KEY")
                         if given.get(k) is not None)
        return None, f"{names}: {exc}"
