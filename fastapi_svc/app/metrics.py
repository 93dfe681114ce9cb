"""Prometheus metrics: one request histogram, named and labelled as in every service.

prometheus-fastapi-instrumentator times every request into
`http_request_duration_seconds{method, handler, status}` (shared_contract/README.md):
`handler` is the route template (`/api/v1/users/{id}`), or `none` for a path no
route matches, never the raw path. With several workers the exposition adds up
every worker's samples (PROMETHEUS_MULTIPROC_DIR, see app.telemetry).
"""

import os
import re

from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator.metrics import Info

from app.telemetry import MULTIPROC_DIR_ENV

METRICS_PATH = "/metrics"
# prometheus_client's default buckets, spelled out: the same in every service.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# Starlette writes converters into the template (`{id:int}`); the label uses `{id}`.
CONVERTER = re.compile(r"\{(\w+):\w+\}")

REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request duration in seconds, by method, route template and status.",
    ("method", "handler", "status"),
    buckets=DURATION_BUCKETS,
)


def route_template(handler: str) -> str:
    return CONVERTER.sub(r"{\1}", handler)


# Any other method (a client can send any token) is recorded as `OTHER`: labels stay bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(info: Info) -> None:
    REQUEST_DURATION.labels(
        method=info.method if info.method in METHODS else "OTHER",
        handler=route_template(info.modified_handler),
        status=info.modified_status,
    ).observe(info.modified_duration)


def instrument_metrics(app: FastAPI) -> None:
    """Time every request, whatever its answer; a path no route matches is handler `none`."""
    Instrumentator(
        should_group_status_codes=False,
        should_group_untemplated=True,
        # Scrapes are not traffic; the other services leave them out too.
        excluded_handlers=[f"^{METRICS_PATH}$"],
    ).add(observe_request).instrument(app)


def metrics_registry() -> CollectorRegistry:
    """Every worker's samples when several processes serve, else this process's."""
    if MULTIPROC_DIR_ENV not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def render_metrics(accept: str | None) -> tuple[bytes, str]:
    """The exposition and its content type: text 0.0.4 unless `Accept` asks for another."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(metrics_registry()), content_type
