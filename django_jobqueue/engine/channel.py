"""The worker's own connection for its job loop: one request, one reply, no pool overhead."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.exceptions import NoScriptError

from . import keys
from .scripts import LuaScript


class Channel:
    def __init__(self, client: Redis) -> None:
        self.client = client
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            pool = self.client.connection_pool
            try:
                self._conn = pool.get_connection()
            except TypeError:  # redis-py 5 wants a command name
                self._conn = pool.get_connection("EVALSHA")
        return self._conn

    def call(self, script: LuaScript, args: list[Any]) -> Any:
        conn = self._connection()
        try:
            try:
                conn.send_command("EVALSHA", script.sha, 0, keys.prefix(), *args)
                return conn.read_response()
            except NoScriptError:  # Redis restarted or flushed its scripts: load, call again
                conn.send_command("SCRIPT", "LOAD", script.source)
                conn.read_response()
                conn.send_command("EVALSHA", script.sha, 0, keys.prefix(), *args)
                return conn.read_response()
        except BaseException:
            conn.disconnect()  # a reply may be half read: never reuse this socket as it is
            raise

    def close(self) -> None:
        if self._conn is not None:
            self.client.connection_pool.release(self._conn)
            self._conn = None
