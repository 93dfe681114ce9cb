"""The workers' metrics directory, and OpenTelemetry tracing."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from config import telemetry

SERVICE = Path(__file__).resolve().parents[1]
ENDPOINT = "http://127.0.0.1:4318"


@pytest.fixture
def no_multiproc_dir() -> Iterator[None]:
    # prepare_multiprocess_dir sets the variable itself: leave it as it was.
    saved = os.environ.pop(telemetry.MULTIPROC_DIR_ENV, None)
    telemetry.prepare_multiprocess_dir.cache_clear()
    yield
    telemetry.prepare_multiprocess_dir.cache_clear()
    os.environ.pop(telemetry.MULTIPROC_DIR_ENV, None)
    if saved is not None:
        os.environ[telemetry.MULTIPROC_DIR_ENV] = saved


@pytest.mark.usefixtures("no_multiproc_dir")
def test_the_master_creates_and_removes_a_fresh_directory_once() -> None:
    created = telemetry.prepare_multiprocess_dir()
    assert created is not None
    assert os.environ[telemetry.MULTIPROC_DIR_ENV] == created
    (Path(created) / "counter_4242.db").write_bytes(b"a live worker's")
    # gunicorn re-reads its configuration on SIGHUP: the live files stay.
    assert telemetry.prepare_multiprocess_dir() == created
    assert (Path(created) / "counter_4242.db").exists()
    telemetry.remove_multiprocess_dir(created)
    assert not Path(created).exists()


@pytest.mark.usefixtures("no_multiproc_dir")
def test_an_operators_directory_is_emptied_not_removed(tmp_path: Path) -> None:
    (tmp_path / "counter_4242.db").write_bytes(b"stale")
    os.environ[telemetry.MULTIPROC_DIR_ENV] = str(tmp_path)
    assert telemetry.prepare_multiprocess_dir() is None
    assert tmp_path.is_dir()
    assert list(tmp_path.iterdir()) == []


def test_the_gunicorn_configuration_does_not_import_prometheus_client() -> None:
    # prometheus_client picks its multiprocess mode when first imported: the
    # configuration sets the directory first, so it must not have imported it yet.
    check = "import sys, config.telemetry; sys.exit('prometheus_client' in sys.modules)"
    subprocess.run([sys.executable, "-c", check], cwd=SERVICE, check=True)


def test_tracing_is_off_without_an_otlp_endpoint() -> None:
    assert telemetry.create_tracer_provider({}) is None
    assert telemetry.create_tracer_provider({"OTEL_SERVICE_NAME": "users"}) is None
    disabled = {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "true"}
    assert telemetry.create_tracer_provider(disabled) is None


@pytest.mark.parametrize(
    ("environ", "service_name"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, "user-api-django"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{ENDPOINT}/v1/traces"}, "user-api-django"),
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


def test_requests_are_traced_by_route_template() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.instrument_django(provider)
    try:
        # A new client loads the middleware again, OpenTelemetry's included.
        response = Client().get("/api/v1/users/me")
        assert response.status_code == 401
    finally:
        DjangoInstrumentor().uninstrument()
        PsycopgInstrumentor().uninstrument()
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    assert spans[0].kind == SpanKind.SERVER
    assert spans[0].attributes is not None
    assert spans[0].attributes["http.route"] == "api/v1/users/me"
