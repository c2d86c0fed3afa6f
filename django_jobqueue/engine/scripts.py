"""Loads the Lua scripts once and runs them by SHA, alone or several in one round trip."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.exceptions import BusyLoadingError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import keys, metrics, states

_DIR = Path(__file__).parent / "scripts"
_DEFINES = re.compile(r"^local (?:function )?([A-Za-z_][A-Za-z0-9_]*)")


def library_blocks(source: str) -> list[tuple[str, str]]:
    """(name, source) of each top-level definition of a shared ``_*.lua`` file: a block
    starts at a ``local`` line in column 0, with the comment lines just above it (a blank
    line inside a function body does not split it)."""
    blocks: list[tuple[str, str]] = []
    comments: list[str] = []
    for line in source.splitlines():
        match = _DEFINES.match(line)
        if match:
            blocks.append((match.group(1), "\n".join([*comments, line])))
            comments = []
        elif line.startswith("--"):
            comments.append(line)
        elif not line.strip():
            comments = []  # a comment block followed by a blank line belongs to no definition
        elif blocks:
            name, text = blocks[-1]
            blocks[-1] = (name, text + "\n" + "\n".join([*comments, line]))
            comments = []
    return [(name, text.rstrip()) for name, text in blocks]


#: shared files that others use, loaded first in this order (the rest by name)
_FIRST = {"_lib.lua": 0, "_groups.lua": 1, "_limits.lua": 2, "_metrics.lua": 3}


def _library() -> list[tuple[str, str]]:
    """Definitions a script may use, in dependency order: the state machine's constants,
    the key builders, then the blocks of the shared ``_*.lua`` files (``_FIRST``, then by name)."""
    defs = states.lua_definitions() + keys.lua_definitions() + metrics.lua_definitions()
    for path in sorted(_DIR.glob("_*.lua"), key=lambda p: (_FIRST.get(p.name, len(_FIRST)),
                                                              p.name)):
        defs += library_blocks(path.read_text())
    return defs


def lua_code(text: str) -> str:
    """Lua source without its ``--`` comments (quoted strings kept whole): a name that a
    comment mentions is not a use of it."""
    lines = []
    for line in text.splitlines():
        quote, i = "", 0
        while i < len(line):
            char = line[i]
            if quote:
                if char == "\\":
                    i += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif line.startswith("--", i):
                line = line[:i]
                break
            i += 1
        lines.append(line)
    return "\n".join(lines)


def _assemble(body: str) -> str:
    """The script's body preceded by only the definitions it needs (each call of a script
    creates its definitions anew, so unused ones would cost every call); names in comments
    do not count."""
    library = _library()
    needed: set[str] = set()
    pending = [body]
    while pending:
        text = lua_code(pending.pop())
        for name, source in library:
            if name not in needed and re.search(rf"\b{name}\b", text):
                needed.add(name)
                pending.append(source)
    parts = [source for name, source in library if name in needed]
    return "\n".join(parts) + "\n" + body


def argv_arity(header: str) -> tuple[int, int | None]:
    """(fewest, most or None for no limit) ARGV entries, prefix included, that a script's
    ``-- ARGV:`` header allows: items are comma-separated, ``[...]`` is an optional group,
    an item ending in ``...`` stands for any number, ``(...)`` is commentary, and the list
    ends at the first full stop."""
    match = re.search(r"^-- ARGV:(.*)$", header, re.MULTILINE)
    if match is None:
        raise ValueError("no '-- ARGV:' line in the script's header")
    text = match.group(1)
    for line in header[match.end():].splitlines()[1:]:
        if not line.startswith("--"):
            break
        text += " " + line[2:]
    spec, depth, i = "", 0, 0
    while i < len(text):
        if text.startswith("...", i):
            spec, i = spec + "...", i + 3
            continue
        char = text[i]
        depth += char in "([" and 1 or 0
        depth -= char in ")]" and 1 or 0
        if char == "." and depth == 0:
            break
        spec, i = spec + char, i + 1
    while "(" in spec:  # commentary, nested or not
        spec = re.sub(r"\([^()]*\)", "", spec)
    fewest, most = 0, 0
    for group, optional in ((re.sub(r"\[[^\]]*\]", "", spec), False),
                            *((g, True) for g in re.findall(r"\[([^\]]*)\]", spec))):
        for item in (part.strip() for part in group.split(",")):
            if not item:
                continue
            if item.endswith("..."):
                most = None
            else:
                fewest += 0 if optional else 1
                most = None if most is None else most + 1
    return fewest, most


class LuaScript:
    """One script file, with the definitions it uses prepended."""

    def __init__(self, name: str) -> None:
        self.name = name
        body = (_DIR / f"{name}.lua").read_text()
        #: (fewest, most or None) ARGV entries its header allows (tests check every caller)
        self.arity = argv_arity(body)
        self.source = _assemble(body)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def __call__(self, client: Any, *args: Any) -> Any:
        """Run on one of the client's pooled connections (no pipeline or retry machinery:
        this is every enqueue's and every move's single round trip). A lost connection
        raises :class:`Interrupted`, which says whether the call may have run."""
        pool = client.connection_pool
        conn = _connect(pool)
        try:
            return self.call_on(conn, args)
        except BusyLoadingError as exc:  # Redis is loading its data: the call did not run
            conn.disconnect()
            raise Interrupted(exc, sent=False) from exc
        except _LOST as exc:
            conn.disconnect()
            raise Interrupted(exc, sent=True) from exc
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


_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class Interrupted(RedisConnectionError):
    """A script call cut short by the connection. ``sent``: whether the request may have
    reached Redis (when False, the call surely did not run); ``replies``: those of a
    :func:`stream` read before the cut, in order: a result; an exception (an error reply, or
    the cut of a call that may have run); or None (a call that met NOSCRIPT, not run since).
    Calls past the end of ``replies`` may have run."""

    def __init__(self, cause: BaseException, sent: bool, replies: Sequence[Any] = ()) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.sent = sent
        self.replies = list(replies)


def _connect(pool: Any) -> Any:
    """A pooled connection; failing to get one means nothing was sent."""
    try:
        return get_connection(pool)
    except _LOST as exc:
        raise Interrupted(exc, sent=False) from exc


def get(name: str) -> LuaScript:
    script = _loaded.get(name)
    if script is None:
        script = _loaded[name] = LuaScript(name)
    return script


def stream(client: Any, script: LuaScript, batches: Sequence[Sequence[Any]]) -> list[Any]:
    """Call one script once per batch in a single write and read every reply at the end:
    one round trip for any number of batches. An error reply (a script error) is returned
    in its batch's place, as the exception; a lost connection raises :class:`Interrupted`
    holding the replies read before it."""
    pool = client.connection_pool
    conn = _connect(pool)
    replies: list[Any] = []
    try:
        prefix = keys.prefix()
        conn.send_packed_command(conn.pack_commands(
            [("EVALSHA", script.sha, 0, prefix, *args) for args in batches]
        ))
        missing = []
        for index in range(len(batches)):
            try:
                replies.append(conn.read_response())
            except NoScriptError:  # had no effect: run again once the script is loaded
                replies.append(None)
                missing.append(index)
            except ResponseError as exc:
                replies.append(exc)
        for index in missing:
            try:
                replies[index] = script.call_on(conn, batches[index])
            except ResponseError as exc:
                replies[index] = exc
            except _LOST as exc:  # this one may have run (an exception: unknown); the
                replies[index] = exc  # placeholders after it did not
                raise Interrupted(exc, sent=True, replies=replies) from exc
        return replies
    except Interrupted:
        conn.disconnect()
        raise
    except _LOST as exc:
        conn.disconnect()
        raise Interrupted(exc, sent=True, replies=replies) from exc
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


def load(client: Any, names: Sequence[str]) -> None:
    """Load these scripts into Redis (after a restart emptied its script cache)."""
    for name in dict.fromkeys(names):
        client.script_load(get(name).source)
