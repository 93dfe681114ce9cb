"""`/metrics`: requests by route template and status, in the Prometheus formats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app import create_app, metrics
from app.telemetry import MULTIPROC_DIR_ENV

SERVICE = Path(__file__).resolve().parents[1]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
DURATION = "http_request_duration_seconds"


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def count(samples: Samples, **labels: str) -> float:
    return samples.get((f"{DURATION}_count", frozenset(labels.items())), 0.0)


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["X-Request-ID"]
    return parse(response.get_data(as_text=True))


def test_requests_are_counted_by_route_template_and_status(client: FlaskClient) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/v1/users/987654321").status_code == 401
    assert client.get("/no/such/route/55554444").status_code == 404
    assert client.head("/health").status_code == 200
    too_large = client.post(
        "/api/v1/users",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        environ_overrides={"CONTENT_LENGTH": str(2**21)},
    )
    assert too_large.status_code == 413
    after = scrape(client)

    def delta(**labels: str) -> float:
        return count(after, **labels) - count(before, **labels)

    assert delta(method="GET", handler="/api/v1/users/{id}", status="401") == 3
    assert delta(method="GET", handler="none", status="404") == 1
    assert delta(method="HEAD", handler="/health", status="200") == 1
    assert delta(method="POST", handler="/api/v1/users", status="413") == 1
    # Scrapes are not counted, and no raw path or id becomes a label value.
    assert delta(method="GET", handler="/metrics", status="200") == 0
    values = {value for _, labels in after for _, value in labels}
    assert not any("987654321" in v or "55554444" in v for v in values)
    buckets = {
        dict(labels)["le"]
        for name, labels in after
        if name == f"{DURATION}_bucket" and dict(labels)["handler"] == "/api/v1/users/{id}"
    }
    assert buckets == {str(b) for b in metrics.DURATION_BUCKETS} | {"+Inf"}


def test_openmetrics_when_the_scraper_asks_for_it(client: FlaskClient) -> None:
    response = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_each_application_has_its_own_metrics(app: Flask, tmp_path: Path) -> None:
    other = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/o.db"})
    assert other.test_client().get("/health").status_code == 200
    assert count(scrape(other.test_client()), method="GET", handler="/health", status="200") == 1
    assert count(scrape(app.test_client()), method="GET", handler="/health", status="200") == 0


WORKER = """
import sys
from app import create_app
app = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[1]})
assert app.test_client().get("/health").status_code == 200
"""


def test_the_exposition_adds_up_every_worker_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    monkeypatch.setenv(MULTIPROC_DIR_ENV, str(metrics_dir))
    for index in range(2):
        # Separate processes started with the directory set, as gunicorn's workers are.
        database = str(tmp_path / f"{index}.db")
        subprocess.run([sys.executable, "-c", WORKER, database], cwd=SERVICE, check=True)
    app = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.db"})
    samples = scrape(app.test_client())
    assert count(samples, method="GET", handler="/health", status="200") == 2
