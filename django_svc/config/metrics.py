"""Prometheus metrics: django-prometheus, plus the request histogram every service exports.

django-prometheus's middleware pair records its own `django_http_*` metrics;
its documented extension point (a `Metrics` subclass and middleware that use
it) adds `http_request_duration_seconds{method, handler, status}`, named and
labelled as in the other services (shared_contract/README.md). `handler` is
the route template (`/api/v1/users/{id}`), or `none` when no route matched,
never the raw path. The histogram is observed in the outermost of the pair, so
that answers from the middleware in between (413, CORS preflights) count too.
With several workers the exposition adds up every worker's samples
(PROMETHEUS_MULTIPROC_DIR, see config.telemetry).
"""

import os
import re
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django_prometheus import middleware
from django_prometheus.utils import TimeSince
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

from config.telemetry import MULTIPROC_DIR_ENV

METRICS_PATH = "/metrics"
# prometheus_client's default buckets, spelled out: the same in every service.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# `users/<user_id:id>` -> `users/{id}`
PATH_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def route_template(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "none"
    return "/" + PATH_PARAMETER.sub(r"{\1}", match.route)


# Any other method (a client can send any token) is recorded as `OTHER`: labels stay bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics(middleware.Metrics):  # type: ignore[misc]
    def register(self) -> None:
        super().register()
        self.request_duration = self.register_metric(
            Histogram,
            "http_request_duration_seconds",
            "HTTP request duration in seconds, by method, route template and status.",
            ["method", "handler", "status"],
            buckets=DURATION_BUCKETS,
        )


class PrometheusBeforeMiddleware(middleware.PrometheusBeforeMiddleware):  # type: ignore[misc]
    metrics_cls = Metrics

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        response = super().process_response(request, response)
        started = getattr(request, "prometheus_before_middleware_event", None)
        handler = route_template(request)
        # Scrapes are not traffic; the other services leave them out too.
        if started is not None and handler != METRICS_PATH:
            method = request.method if request.method in METHODS else "OTHER"
            self.metrics.request_duration.labels(
                method=method, handler=handler, status=str(response.status_code)
            ).observe(TimeSince(started))
        return response


class PrometheusAfterMiddleware(middleware.PrometheusAfterMiddleware):  # type: ignore[misc]
    # The same Metrics as the Before middleware: each metric is registered once.
    metrics_cls = Metrics

    def label_metric(
        self, metric: Any, request: HttpRequest, response: Any = None, **labels: Any
    ) -> Any:
        # django-prometheus labels its per-view latency by the raw method.
        if labels.get("method") not in (None, *METHODS):
            labels["method"] = "OTHER"
        return super().label_metric(metric, request, response, **labels)


def metrics_registry() -> CollectorRegistry:
    """Every worker's samples when several processes serve, else this process's."""
    if MULTIPROC_DIR_ENV not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def render_metrics(accept: str | None) -> tuple[bytes, str]:
    """The exposition and its content type: text 0.0.4 unless `Accept` asks for another.

    (django-prometheus's own view always answers its newest text format.)
    """
    encoder, content_type = choose_encoder(accept or "")
    return encoder(metrics_registry()), content_type
