"""A TCP proxy in front of the test Redis that lets a chosen script call run and then drops
its reply (and the connection): the exact "it ran, the reply was lost" case, on demand.

``ReplyCutter(host, port).cut_after(n)``: the next ``n`` EVALSHA replies pass, the one after
them is withheld and the client reads end-of-file; every request the client wrote still
reaches Redis; everything else passes untouched.
"""

from __future__ import annotations

import collections
import socket
import threading

from tests.harness import free_port


def reply_end(buf: bytes, pos: int = 0) -> int | None:
    """Where the RESP2/RESP3 value starting at ``pos`` ends, or None when it is incomplete
    (redis-py 8 speaks RESP3)."""
    line_end = buf.find(b"\r\n", pos)
    if line_end < 0:
        return None
    kind, head = buf[pos:pos + 1], buf[pos + 1:line_end]
    after = line_end + 2
    if kind in (b"+", b"-", b":", b"_", b"#", b",", b"("):
        return after
    if kind in (b"$", b"=", b"!"):
        size = int(head)
        if size < 0:
            return after
        return after + size + 2 if len(buf) >= after + size + 2 else None
    if kind in (b"*", b"~", b">", b"%"):
        count = max(int(head), 0) * (2 if kind == b"%" else 1)
        for _ in range(count):
            after = reply_end(buf, after)
            if after is None:
                return None
        return after
    raise ValueError(f"not RESP: {buf[pos:pos + 20]!r}")


def command_name(buf: bytes, pos: int, end: int) -> bytes:
    """The first word of a command (an array of bulk strings) held in buf[pos:end]."""
    first = buf.find(b"\r\n", pos) + 2  # past "*<n>"
    size_end = buf.find(b"\r\n", first)
    size = int(buf[first + 1:size_end])
    return buf[size_end + 2:size_end + 2 + size].upper()


class ReplyCutter:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._passes: int | None = None  # EVALSHA replies that still pass; None: all
        self.cut = 0  # replies withheld so far
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut_after(self, replies: int) -> None:
        with self._lock:
            self._passes = replies

    def close(self) -> None:
        self._server.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self._sockets += [client, upstream]
            names: collections.deque[bytes] = collections.deque()
            threading.Thread(target=self._requests, args=(client, upstream, names),
                             daemon=True).start()
            threading.Thread(target=self._replies, args=(upstream, client, names),
                             daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket,
                  names: collections.deque[bytes]) -> None:
        buf = b""
        try:
            while chunk := client.recv(65536):
                buf += chunk
                pos = 0
                while (end := reply_end(buf, pos)) is not None:  # a command is RESP too
                    names.append(command_name(buf, pos, end))
                    pos = end
                upstream.sendall(buf[:pos])
                buf = buf[pos:]
        except OSError:
            pass
        finally:
            try:  # Redis runs what it got, then closes: the reply pump reads to the end
                upstream.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _replies(self, upstream: socket.socket, client: socket.socket,
                 names: collections.deque[bytes]) -> None:
        buf = b""
        try:
            while chunk := upstream.recv(65536):
                buf += chunk
                pos = 0
                while (end := reply_end(buf, pos)) is not None:
                    if names.popleft() == b"EVALSHA" and not self._passes_one():
                        client.sendall(buf[:pos])  # the replies before it, then hang up
                        self._hang_up(upstream, client)
                        return
                    pos = end
                client.sendall(buf[:pos])
                buf = buf[pos:]
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)

    @staticmethod
    def _hang_up(upstream: socket.socket, client: socket.socket) -> None:
        """The client reads end-of-file now, while what it sent still reaches Redis (the
        request pump forwards it until the client closes): every request it wrote runs,
        whatever the client is told, and no reply after the cut reaches it."""
        client.shutdown(socket.SHUT_WR)
        try:
            while upstream.recv(65536):
                pass
        except OSError:
            pass

    def _passes_one(self) -> bool:
        with self._lock:
            if self._passes is None:
                return True
            if self._passes > 0:
                self._passes -= 1
                return True
            self._passes = None  # one cut, then everything passes again
            self.cut += 1
            return False


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
