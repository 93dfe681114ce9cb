"""A small HTTP server on loopback that records what wrk sends, for the Lua scripts' tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

Handler = Callable[["Seen", str, dict[str, str], bytes], tuple[int, bytes]]


@dataclass
class Seen:
    """Requests the server got, and state a handler keeps between them."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    state: dict[str, object] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class StubServer:
    url: str
    seen: Seen


def ok(_seen: Seen, _path: str, _headers: dict[str, str], _body: bytes) -> tuple[int, bytes]:
    return 200, json.dumps({"status": "ok"}).encode()


@pytest.fixture
def stub_server(request: pytest.FixtureRequest) -> Iterator[StubServer]:
    handle: Handler = getattr(request, "param", ok)
    seen = Seen()

    class RecordingHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            with seen.lock:
                seen.requests.append((self.command, self.path, headers, body))
                status, payload = handle(seen, self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StubServer(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()
