"""The workers' metrics directory, and OpenTelemetry tracing."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app import telemetry
from app.config import SERVICE_DIR

from .helpers import bearer, login, register

ENDPOINT = "http://127.0.0.1:4318"


@pytest.fixture
def no_multiproc_dir() -> Iterator[None]:
    # prepare_multiprocess_dir sets the variable itself: leave it as it was.
    saved = os.environ.pop(telemetry.MULTIPROC_DIR_ENV, None)
    yield
    os.environ.pop(telemetry.MULTIPROC_DIR_ENV, None)
    if saved is not None:
        os.environ[telemetry.MULTIPROC_DIR_ENV] = saved


@pytest.mark.usefixtures("no_multiproc_dir")
def test_the_supervisor_creates_and_removes_a_fresh_directory() -> None:
    created = telemetry.prepare_multiprocess_dir()
    assert created is not None
    assert os.environ[telemetry.MULTIPROC_DIR_ENV] == created
    assert list(Path(created).iterdir()) == []
    telemetry.remove_multiprocess_dir(created)
    assert not Path(created).exists()


@pytest.mark.usefixtures("no_multiproc_dir")
def test_an_operators_directory_is_emptied_not_removed(tmp_path: Path) -> None:
    (tmp_path / "counter_4242.db").write_bytes(b"stale")
    os.environ[telemetry.MULTIPROC_DIR_ENV] = str(tmp_path)
    assert telemetry.prepare_multiprocess_dir() is None
    assert tmp_path.is_dir()
    assert list(tmp_path.iterdir()) == []


def test_the_supervisor_does_not_import_prometheus_client() -> None:
    # prometheus_client picks its multiprocess mode when first imported: the
    # supervisor sets the directory first, so it must not have imported it yet.
    check = "import sys, app.serve; sys.exit('prometheus_client' in sys.modules)"
    subprocess.run([sys.executable, "-c", check], cwd=SERVICE_DIR, check=True)  # noqa: S603


def test_tracing_is_off_without_an_otlp_endpoint() -> None:
    assert telemetry.create_tracer_provider({}) is None
    assert telemetry.create_tracer_provider({"OTEL_SERVICE_NAME": "users"}) is None
    disabled = {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "true"}
    assert telemetry.create_tracer_provider(disabled) is None


@pytest.mark.parametrize(
    ("environ", "service_name"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, "user-api-fastapi"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{ENDPOINT}/v1/traces"}, "user-api-fastapi"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SERVICE_NAME": "users"}, "users"),
    ],
)
def test_an_otlp_endpoint_switches_tracing_on(environ: dict[str, str], service_name: str) -> None:
    provider = telemetry.create_tracer_provider(environ)
    assert provider is not None
    try:
        assert provider.resource.attributes["service.name"] == service_name
    finally:
        provider.shutdown()


async def test_requests_are_traced_by_route_template(app: FastAPI, client: AsyncClient) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.instrument_tracing(app, provider)
    try:
        user = await register(client)
        tokens = await login(client, user["email"])
        exporter.clear()
        response = await client.get("/api/v1/users/me", headers=bearer(tokens))
        assert response.status_code == 200
    finally:
        FastAPIInstrumentor.uninstrument_app(app)
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["GET /api/v1/users/me"]
    assert spans[0].kind == SpanKind.SERVER
    assert spans[0].attributes is not None
    assert spans[0].attributes["http.route"] == "/api/v1/users/me"
