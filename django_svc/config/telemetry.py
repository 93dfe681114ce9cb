"""Process-wide observability set-up: the metrics directory shared by the gunicorn
workers, and OpenTelemetry tracing.

prometheus_client chooses between per-process and multiprocess metrics when it is
first imported, from PROMETHEUS_MULTIPROC_DIR. gunicorn.conf.py calls
`prepare_multiprocess_dir` before the application (and with it prometheus_client)
is loaded, so this module never imports prometheus_client at import time
(config.metrics holds the metrics).

Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT (or its traces-only variant)
is set; spans then leave over OTLP/HTTP, configured by the standard OTEL_*
variables. The application is loaded once in the gunicorn master
(`preload_app`), so `instrument_django` adds OpenTelemetry's middleware there,
and each worker sets up its own tracer provider and export thread after the
fork (`configure_tracing`, from gunicorn's `post_fork`).
"""

import os
import shutil
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_SERVICE_NAME = "user-api-django"
# Either one switches tracing on.
ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


# -- the metrics directory ----------------------------------------------------


@cache
def prepare_multiprocess_dir() -> str | None:
    """Give the workers an empty PROMETHEUS_MULTIPROC_DIR before they start.

    Call in the gunicorn master before the application loads. Returns the
    temporary directory it created (to remove when the server stops), or None
    when the operator named one, which is emptied instead: samples of an
    earlier run must not be added to this one's. Once per process, so that
    gunicorn re-reading its configuration (SIGHUP) keeps the live workers' files.
    """
    configured = os.environ.get(MULTIPROC_DIR_ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return None
    created = tempfile.mkdtemp(prefix="user-api-metrics-")
    os.environ[MULTIPROC_DIR_ENV] = created
    return created


def remove_multiprocess_dir(path: str | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def mark_worker_dead(pid: int) -> None:
    """Drop a dead worker's live gauges; its counters and histograms still count."""
    if MULTIPROC_DIR_ENV in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


# -- tracing ------------------------------------------------------------------


def tracing_enabled(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name) for name in ENDPOINT_ENVS)


def create_tracer_provider(environ: Mapping[str, str]) -> TracerProvider | None:
    """A tracer provider exporting over OTLP/HTTP, or None when tracing is off."""
    if not tracing_enabled(environ):
        return None
    service_name = environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    # The exporter and the batch processor read their OTEL_EXPORTER_OTLP_* and
    # OTEL_BSP_* settings from the environment themselves.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


@cache
def configure_tracing() -> TracerProvider | None:
    """This process's tracer provider, made global on first use; None when tracing is off."""
    provider = create_tracer_provider(os.environ)
    if provider is not None:
        trace.set_tracer_provider(provider)
    return provider


def instrument_django(tracer_provider: TracerProvider | None = None) -> None:
    """A server span per request and a child span per PostgreSQL statement.

    Call before the WSGI handler loads its middleware. Without a provider the
    spans go to the global one, which each worker sets after the fork.
    """
    if tracer_provider is None and not tracing_enabled(os.environ):
        return
    DjangoInstrumentor().instrument(tracer_provider=tracer_provider)
    PsycopgInstrumentor().instrument(tracer_provider=tracer_provider)
