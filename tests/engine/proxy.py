"""A TCP proxy for fault tests: clients connect to it on a free loopback port, it forwards
every byte to the test's Redis and back, and on command from the test it

* resets every open connection (``reset_all``): an RST to the client (``SO_LINGER`` 0, then
  close), and one to Redis, so both sides see the link die at once;
* cuts replies mid-way (``cut_replies``): the next server->client chunk(s) of at least
  ``min_bytes`` bytes are forwarded only in part (the first half), then the connection is
  closed: the client has read half a reply and then end-of-file, although Redis ran the
  command.

It runs in one thread of the test process (a ``selectors`` loop over non-blocking sockets);
commands from the test are run by that thread, between two events, so a reset never races
with a forward. Real sockets, no mocks: the clients under test cannot tell it from Redis.

Usage::

    with FaultProxy(redis_server.host, redis_server.port) as proxy:
        worker_url = proxy.url
        ...
        proxy.reset_all()          # -> how many connections were reset
        proxy.cut_replies(1, 64)   # arm; proxy.cuts counts the cuts done
"""

from __future__ import annotations

import queue
import selectors
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from tests.harness import LOOPBACK

_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, drops unsent data


class _Pair:
    """One proxied connection: the client's socket and ours to Redis."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.out: dict[socket.socket, bytearray] = {client: bytearray(), upstream: bytearray()}
        self.closed = False

    def peer(self, sock: socket.socket) -> socket.socket:
        return self.upstream if sock is self.client else self.client


class FaultProxy:
    """See the module docstring. Counters (read them from the test thread): ``accepted``,
    ``resets`` (connections reset), ``cuts`` (replies cut), ``errors`` (unexpected
    exceptions inside the proxy thread, as text; should stay empty)."""

    def __init__(self, target_host: str, target_port: int, host: str = LOOPBACK) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._tasks: queue.Queue[Callable[[], None]] = queue.Queue()
        self._pairs: set[_Pair] = set()
        self._stopping = False
        self._cut_budget = 0
        self._cut_min_bytes = 1
        self.accepted = 0
        self.resets = 0
        self.cuts = 0
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="fault-proxy", daemon=True)

    # -- public, called from the test thread

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> FaultProxy:
        self._sel.register(self._listener, selectors.EVENT_READ, self._accept)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._run_tasks)
        self._thread.start()
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._stopping = True
        self._wake_w.send(b"x")
        self._thread.join(timeout=10)
        for pair in list(self._pairs):
            self._close_pair(pair, reset=True)
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        self._sel.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def open_connections(self) -> int:
        return self._in_loop(lambda: len(self._pairs))

    def reset_all(self) -> int:
        """RST every open connection, both ways; returns how many were reset."""

        def reset() -> int:
            pairs = list(self._pairs)
            for pair in pairs:
                self._close_pair(pair, reset=True)
            self.resets += len(pairs)
            return len(pairs)

        return self._in_loop(reset)

    def cut_replies(self, count: int = 1, min_bytes: int = 1) -> None:
        """Arm: the next ``count`` server->client chunks of at least ``min_bytes`` bytes (on
        whichever connection) are forwarded in part, then that connection is closed.
        ``self.cuts`` goes up by one per cut done."""

        def arm() -> None:
            self._cut_budget += count
            self._cut_min_bytes = max(1, min_bytes)

        self._in_loop(arm)

    # -- the loop thread

    def _in_loop(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        if not self._thread.is_alive():
            raise RuntimeError("the fault proxy is not running")
        done = threading.Event()
        box: dict[str, Any] = {}

        def task() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed to the caller
                box["error"] = exc
            finally:
                done.set()

        self._tasks.put(task)
        self._wake_w.send(b"x")
        if not done.wait(timeout):
            raise RuntimeError(f"the fault proxy did not run a command within {timeout:g}s")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def _loop(self) -> None:
        while not self._stopping:
            for key, mask in self._sel.select(timeout=0.5):
                handler = key.data
                try:
                    if handler in (self._accept, self._run_tasks):
                        handler()
                    else:
                        pair = handler
                        if pair.closed:
                            continue
                        if mask & selectors.EVENT_WRITE:
                            self._flush(pair, key.fileobj)
                        if mask & selectors.EVENT_READ and not pair.closed:
                            self._read(pair, key.fileobj)
                except Exception as exc:  # never let the proxy thread die silently
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    if isinstance(handler, _Pair):
                        self._close_pair(handler, reset=True)

    def _run_tasks(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            task()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except BlockingIOError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=2.0)
            except OSError:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
                client.close()  # Redis unreachable: so is the proxy
                continue
            self.accepted += 1
            for sock in (client, upstream):
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = _Pair(client, upstream)
            self._pairs.add(pair)
            self._sel.register(client, selectors.EVENT_READ, pair)
            self._sel.register(upstream, selectors.EVENT_READ, pair)

    def _read(self, pair: _Pair, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # one side hung up (or reset): so does the other
            self._flush(pair, pair.peer(sock))
            self._close_pair(pair, reset=False)
            return
        if (sock is pair.upstream and self._cut_budget > 0
                and len(data) >= self._cut_min_bytes):
            self._cut_budget -= 1
            self.cuts += 1
            self._cut(pair, data[: len(data) // 2])
            return
        target = pair.peer(sock)
        pair.out[target] += data
        self._flush(pair, target)

    def _cut(self, pair: _Pair, part: bytes) -> None:
        """Give the client what it is owed so far plus ``part``, then close (FIN, so it
        reads the half reply before the end of file)."""
        client = pair.client
        data = bytes(pair.out[client]) + part
        try:
            client.setblocking(True)
            client.settimeout(1.0)
            client.sendall(data)
        except OSError:
            pass
        pair.out[client].clear()
        self._close_pair(pair, reset=False)

    def _flush(self, pair: _Pair, sock: socket.socket) -> None:
        buf = pair.out[sock]
        if pair.closed:
            return
        while buf:
            try:
                sent = sock.send(buf)
            except BlockingIOError:
                break
            except OSError:
                self._close_pair(pair, reset=False)
                return
            del buf[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if buf else 0)
        self._sel.modify(sock, events, pair)

    def _close_pair(self, pair: _Pair, reset: bool) -> None:
        if pair.closed:
            return
        pair.closed = True
        self._pairs.discard(pair)
        for sock in (pair.client, pair.upstream):
            try:
                self._sel.unregister(sock)
            except (KeyError, ValueError):
                pass
            try:
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
                sock.close()
            except OSError:
                pass
