"""Database round trips per request, counted on the wire.

A TCP proxy in front of PostgreSQL counts the server's ReadyForQuery messages: one ends
every simple query and every extended-protocol Sync, so one per round trip whatever the
driver (asyncpg, psycopg) or ORM sends. The proxy declines TLS itself (it answers `N` to
an SSLRequest or GSSENCRequest), as a server without TLS would, so every driver then
speaks plain text through it.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
READY_FOR_QUERY = ord("Z")
# Requests in a row on one kept-alive connection, after a few that warm the pool.
WARMUP = 3
REQUESTS = 20


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class RoundTripCounter:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            sink.close()

    def _count_server_messages(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while True:
                head = _recv_exactly(server, 5)
                (length,) = struct.unpack("!i", head[1:])
                client.sendall(head + _recv_exactly(server, length - 4))
                if head[0] == READY_FOR_QUERY:
                    with self._lock:
                        self._count += 1
        except (OSError, ConnectionError):
            pass
        finally:
            client.close()

    def _connect(self, client: socket.socket) -> None:
        try:
            while True:
                head = _recv_exactly(client, 8)
                length, code = struct.unpack("!ii", head)
                if length == 8 and code in (SSL_REQUEST, GSSENC_REQUEST):
                    client.sendall(b"N")
                    continue
                break
            server = socket.create_connection(self.upstream)
            server.sendall(head)
        except (OSError, ConnectionError):
            client.close()
            return
        threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
        self._count_server_messages(server, client)

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()


@contextmanager
def counting_proxy(database_url: str) -> Iterator[tuple[RoundTripCounter, str]]:
    """A counter and the same database's URL through it."""
    parts = urlsplit(database_url)
    counter = RoundTripCounter((parts.hostname or "127.0.0.1", parts.port or 5432))
    counter.start()
    credentials = parts.netloc.rpartition("@")[0]
    netloc = (
        f"{credentials}@127.0.0.1:{counter.port}" if credentials else f"127.0.0.1:{counter.port}"
    )
    try:
        yield counter, parts._replace(netloc=netloc).geturl()
    finally:
        counter.listener.close()
