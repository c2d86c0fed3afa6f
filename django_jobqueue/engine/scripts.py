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
        try:
            return client.evalsha(self.sha, 0, keys.prefix(), *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, 0, keys.prefix(), *args)

    def add_to(self, pipe: Any, *args: Any) -> None:
        """Queue a call on a pipeline; run it with :func:`execute`."""
        pipe.execute_command("EVALSHA", self.sha, 0, keys.prefix(), *args)


_loaded: dict[str, LuaScript] = {}


def get(name: str) -> LuaScript:
    script = _loaded.get(name)
    if script is None:
        script = _loaded[name] = LuaScript(name)
    return script


Call = tuple[LuaScript, Sequence[Any]]


def execute(client: Any, calls: Sequence[Call]) -> list[Any]:
    """Run several script calls in one round trip and return their replies in order.

    A call that finds its script missing (Redis restarted, SCRIPT FLUSH) had no effect, so it
    alone is run again after loading; the others are not repeated.
    """
    if len(calls) == 1:
        script, args = calls[0]
        return [script(client, *args)]
    pipe = client.pipeline(transaction=False)
    for script, args in calls:
        script.add_to(pipe, *args)
    replies = pipe.execute(raise_on_error=False)
    for index, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            script, args = calls[index]
            replies[index] = script(client, *args)
        elif isinstance(reply, Exception):
            raise reply
    return replies


def pack_fields(pairs: Sequence[Any]) -> bytes:
    """Field/value pairs as one string of netstrings (``<length>:<bytes>`` each), which
    ``unpack_fields`` in _lib.lua splits: one argument per job instead of dozens."""
    out: list[bytes] = []
    add = out.append
    for value in pairs:
        if type(value) is not bytes:
            value = str(value).encode()
        add(str(len(value)).encode())
        add(b":")
        add(value)
    return b"".join(out)


def unpack_fields(blob: bytes) -> dict[bytes, bytes]:
    """The inverse, for hashes a script returns packed (one reply element, cheap to parse)."""
    items = []
    pos, end = 0, len(blob)
    find = blob.find
    while pos < end:
        colon = find(b":", pos)
        start = colon + 1
        stop = start + int(blob[pos:colon])
        items.append(blob[start:stop])
        pos = stop
    return dict(zip(items[::2], items[1::2], strict=True))
