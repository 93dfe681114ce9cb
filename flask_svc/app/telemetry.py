"""Process-wide observability set-up: the metrics directory shared by the gunicorn
workers, and OpenTelemetry tracing.

prometheus_client chooses between per-process and multiprocess metrics when it is
first imported, from PROMETHEUS_MULTIPROC_DIR. gunicorn.conf.py calls
`prepare_multiprocess_dir` before any worker loads the application (and
prometheus_client with it), so this module never imports prometheus_client at
import time (app.metrics holds the metrics, imported by `create_app`).

Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT (or its traces-only variant)
is set; spans then leave over OTLP/HTTP, configured by the standard OTEL_*
variables. gunicorn loads the application in each worker after the fork (no
`preload_app`), so `create_app` gives each worker its own tracer provider and
export thread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from flask import Flask
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_SERVICE_NAME = "user-api-flask"
# Either one switches tracing on.
ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


# -- the metrics directory ----------------------------------------------------


@cache
def prepare_multiprocess_dir() -> str | None:
    """Give the workers an empty PROMETHEUS_MULTIPROC_DIR before they start.

    Call in the gunicorn master, before any worker exists. Returns the
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
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(pid)


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
        # Each PostgreSQL statement is a child span of its request (SQLite is not traced).
        PsycopgInstrumentor().instrument(tracer_provider=provider)
    return provider


def instrument_tracing(app: Flask, provider: TracerProvider) -> None:
    """A server span per request, named after its URL rule."""
    FlaskInstrumentor.instrument_app(app, tracer_provider=provider)  # type: ignore[no-untyped-call]


def init_app(app: Flask) -> None:
    provider = configure_tracing()
    if provider is not None:
        instrument_tracing(app, provider)
