"""Prometheus metrics: prometheus-flask-exporter, named and labelled as in every service.

Its default request histogram, unprefixed and grouped by `handler`, is
`http_request_duration_seconds{method, handler, status}` (shared_contract/README.md):
`handler` is the route template (`/api/v1/users/{id}`), or `none` when no route
matched, never the raw path. Under gunicorn (PROMETHEUS_MULTIPROC_DIR set, see
app.telemetry) its multiprocess variant serves `/metrics` with every worker's
samples added up.
"""

from __future__ import annotations

import os
import re

from flask import Flask, Request
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import NO_PREFIX, PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

from .telemetry import MULTIPROC_DIR_ENV

METRICS_PATH = "/metrics"
# prometheus_client's default buckets, spelled out: the same in every service.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# `/api/v1/users/<user_id:id>` -> `/api/v1/users/{id}`
PATH_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def handler(request: Request) -> str:
    """The label value; the exporter names the label after this function."""
    rule = request.url_rule
    return "none" if rule is None else PATH_PARAMETER.sub(r"{\1}", rule.rule)


def init_app(app: Flask) -> PrometheusMetrics:
    """Time every request and serve `/metrics` (the exporter leaves scrapes uncounted)."""
    options = {
        "path": METRICS_PATH,
        "defaults_prefix": NO_PREFIX,
        "group_by": handler,
        "buckets": DURATION_BUCKETS,
    }
    if MULTIPROC_DIR_ENV in os.environ:
        metrics: PrometheusMetrics = GunicornInternalPrometheusMetrics(app, **options)
    else:
        # A registry per application: tests build many in one process.
        metrics = PrometheusMetrics(app, registry=CollectorRegistry(), **options)
    app.extensions["prometheus_metrics"] = metrics
    return metrics
