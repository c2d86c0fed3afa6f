"""The worker's own connection for its job loop: one request, one reply, no pool overhead."""

from __future__ import annotations

from typing import Any

from redis import Redis

from .scripts import LuaScript, get_connection


class Channel:
    def __init__(self, client: Redis) -> None:
        self.client = client
        self._conn: Any = None

    def call(self, script: LuaScript, args: list[Any]) -> Any:
        if self._conn is None:
            self._conn = get_connection(self.client.connection_pool)
        try:
            return script.call_on(self._conn, args)
        except BaseException:
            self._conn.disconnect()  # a reply may be half read: never reuse the socket as it is
            raise

    def close(self) -> None:
        if self._conn is not None:
            self.client.connection_pool.release(self._conn)
            self._conn = None
