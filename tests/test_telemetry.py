"""OpenTelemetry tracing: off by default, spans over OTLP/HTTP once an endpoint is set.

Each test starts a server of its own next to a small OTLP/HTTP receiver on a
loopback port that records what arrives at `/v1/traces`.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

import servers
from conftest import ServerFactory, Target
from helpers import ME, Api, wait_until

# Whatever the run's database or Redis: tracing does not depend on them.
pytestmark = pytest.mark.mode_independent

TRACES_PATH = "/v1/traces"
# Where an OTLP/HTTP exporter sends when no endpoint is configured.
DEFAULT_OTLP_PORT = 4318
BIND_TIMEOUT = 30.0
# Spans leave in batches this often (milliseconds) instead of every 5 s.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "200"}
NO_ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": None, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": None}


@dataclass
class Received:
    path: str
    content_type: str
    body: bytes


@dataclass
class OtlpReceiver:
    """Records every POST; answers each with an empty ExportTraceServiceResponse."""

    port: int
    received: list[Received] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[ExportTraceServiceRequest]:
        return [
            ExportTraceServiceRequest.FromString(item.body)
            for item in list(self.received)
            if item.path == TRACES_PATH
        ]

    def spans(self) -> list[tuple[dict[str, str], Span]]:
        """Every span received, with its resource's attributes."""
        found = []
        for request in self.requests():
            for resource_spans in request.resource_spans:
                resource = {
                    kv.key: kv.value.string_value for kv in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    found += [(resource, span) for span in scope_spans.spans]
        return found


def attributes(span: Span) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        values[kv.key] = getattr(kv.value, kind) if kind else None
    return values


@contextlib.contextmanager
def otlp_receiver(port: int = 0) -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver(port=port)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            content_type = self.headers.get("Content-Type", "")
            receiver.received.append(Received(self.path, content_type, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    deadline = time.monotonic() + BIND_TIMEOUT
    while True:
        try:
            httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            break
        except OSError as error:
            # A fixed port may be held for a moment by another run of this test.
            if error.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    receiver.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def database(target: Target, stack: contextlib.ExitStack) -> str:
    """PostgreSQL when reachable, so that the queries' spans can be seen too."""
    kind = "postgres" if servers.postgres_available() else target.database
    return stack.enter_context(servers.fresh_database(kind))


def test_spans_leave_over_otlp_http_once_an_endpoint_is_set(
    server_factory: ServerFactory, target: Target
) -> None:
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(otlp_receiver())
        database_url = database(target, stack)
        extra_env = {**NO_ENDPOINT, **FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        server = stack.enter_context(server_factory(database_url=database_url, extra_env=extra_env))
        api = Api.of(server)
        account = api.register()
        assert api.me(account.access).status_code == 200

        def me_span() -> tuple[dict[str, str], Span] | None:
            for resource, span in receiver.spans():
                route = str(attributes(span).get("http.route", ""))
                if span.kind == Span.SPAN_KIND_SERVER and route.lstrip("/") == ME.lstrip("/"):
                    return resource, span
            return None

        assert wait_until(lambda: me_span() is not None, timeout=20), server.logs()
        found = me_span()
        assert found is not None
        resource, span = found
        assert resource["service.name"] == f"user-api-{target.name}"
        assert attributes(span).get("http.method", attributes(span).get("http.request.method")) == (
            "GET"
        )
        assert all(item.content_type == "application/x-protobuf" for item in receiver.received)
        if database_url.startswith("postgresql"):
            # The user lookup is a child of the request's span.
            queries = [
                s
                for _, s in receiver.spans()
                if s.kind == Span.SPAN_KIND_CLIENT and s.trace_id == span.trace_id
            ]
            assert queries, [s.name for _, s in receiver.spans()]
        api.client.close()


def test_no_exporter_without_an_endpoint(server_factory: ServerFactory) -> None:
    # An exporter left on by mistake would send to the default local port: listen there.
    with (
        otlp_receiver(DEFAULT_OTLP_PORT) as receiver,
        server_factory(extra_env={**NO_ENDPOINT, **FAST_EXPORT}) as server,
    ):
        api = Api.of(server)
        for path in ("/health", "/ready", ME, "/metrics"):
            api.client.get(path)
        # Many times the export interval.
        time.sleep(3)
        api.client.close()
        assert receiver.received == []
