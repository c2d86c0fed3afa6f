"""Loads the Lua scripts once and runs them by SHA, alone or several in one round trip."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.exceptions import NoScriptError

from . import keys

_DIR = Path(__file__).parent / "scripts"


class LuaScript:
    """One script: the key prelude, the shared helpers and the file's own body."""

    def __init__(self, name: str) -> None:
        self.name = name
        body = (_DIR / f"{name}.lua").read_text()
        self.source = keys.lua_prelude() + (_DIR / "_lib.lua").read_text() + body
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
