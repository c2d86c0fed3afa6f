"""Loads the Lua scripts once and runs them by SHA, alone or several in one round trip."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.exceptions import NoScriptError

from . import keys

_DIR = Path(__file__).parent / "scripts"
_DEFINES = re.compile(r"^local (?:function )?([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def _library() -> list[tuple[str, str]]:
    """Definitions a script may use, in dependency order: key builders, then _lib.lua's
    blocks (one definition per blank-line-separated block)."""
    defs = keys.lua_definitions()
    for block in (_DIR / "_lib.lua").read_text().split("\n\n"):
        match = _DEFINES.search(block)
        if match:
            defs.append((match.group(1), block.strip()))
    return defs


def _assemble(body: str) -> str:
    """The script's body preceded by only the definitions it needs (each call of a script
    creates its definitions anew, so unused ones would cost every call)."""
    library = _library()
    needed: set[str] = set()
    pending = [body]
    while pending:
        text = pending.pop()
        for name, source in library:
            if name not in needed and re.search(rf"\b{name}\b", text):
                needed.add(name)
                pending.append(source)
    parts = [source for name, source in library if name in needed]
    return "\n".join(parts) + "\n" + body


class LuaScript:
    """One script file, with the definitions it uses prepended."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = _assemble((_DIR / f"{name}.lua").read_text())
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def __call__(self, client: Any, *args: Any) -> Any:
        """Run on one of the client's pooled connections (no pipeline or retry machinery:
        this is every enqueue's and every move's single round trip)."""
        pool = client.connection_pool
        conn = get_connection(pool)
        try:
            return self.call_on(conn, args)
        except BaseException:
            conn.disconnect()  # a reply may be half read: never reuse the socket as it is
            raise
        finally:
            pool.release(conn)

    def call_on(self, conn: Any, args: Sequence[Any]) -> Any:
        """Send and read one EVALSHA on a connection; load the script if Redis lost it."""
        try:
            conn.send_command("EVALSHA", self.sha, 0, keys.prefix(), *args)
            return conn.read_response()
        except NoScriptError:  # Redis restarted or flushed its scripts: load, call again
            conn.send_command("SCRIPT", "LOAD", self.source)
            conn.read_response()
            conn.send_command("EVALSHA", self.sha, 0, keys.prefix(), *args)
            return conn.read_response()

    def add_to(self, pipe: Any, *args: Any) -> None:
        """Queue a call on a pipeline; run it with :func:`execute`."""
        pipe.execute_command("EVALSHA", self.sha, 0, keys.prefix(), *args)


_loaded: dict[str, LuaScript] = {}


def get_connection(pool: Any) -> Any:
    try:
        return pool.get_connection()
    except TypeError:  # redis-py 5 wants a command name
        return pool.get_connection("EVALSHA")


def get(name: str) -> LuaScript:
    script = _loaded.get(name)
    if script is None:
        script = _loaded[name] = LuaScript(name)
    return script


Call = tuple[LuaScript, Sequence[Any]]


def stream(client: Any, script: LuaScript, batches: Sequence[Sequence[Any]]) -> list[Any]:
    """Call one script once per batch in a single write and read every reply at the end:
    one round trip for any number of batches."""
    pool = client.connection_pool
    conn = get_connection(pool)
    try:
        prefix = keys.prefix()
        conn.send_packed_command(conn.pack_commands(
            [("EVALSHA", script.sha, 0, prefix, *args) for args in batches]
        ))
        replies: list[Any] = []
        missing = []
        for index in range(len(batches)):
            try:
                replies.append(conn.read_response())
            except NoScriptError:  # had no effect: run again once the script is loaded
                replies.append(None)
                missing.append(index)
        for index in missing:
            replies[index] = script.call_on(conn, batches[index])
        return replies
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


def pack_fields(values: Sequence[Any]) -> bytes:
    """Many values as one string, ``<len>,<len>,...;<bytes><bytes>...``, which
    ``unpack_fields`` in _lib.lua splits: one argument per job instead of dozens."""
    parts = [v if type(v) is bytes else str(v).encode() for v in values]
    return (",".join(map(str, map(len, parts))) + ";").encode() + b"".join(parts)


def unpack_fields(blob: bytes) -> dict[bytes, bytes]:
    """The inverse, for a hash a script returns packed (one reply element, cheap to parse)."""
    header, _, data = blob.partition(b";")
    items = []
    pos = 0
    for length in header.split(b",") if header else ():
        end = pos + int(length)
        items.append(data[pos:end])
        pos = end
    return dict(zip(items[::2], items[1::2], strict=True))
