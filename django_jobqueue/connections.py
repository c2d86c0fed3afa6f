"""``django_jobqueue.connections``: RQ's import path (``rq.connections``) for the engine's names."""

from .engine import (
    Connection,
    get_current_connection,
    pop_connection,
    push_connection,
    use_connection,
)

__all__ = ["Connection", "get_current_connection", "pop_connection", "push_connection",
           "use_connection"]
