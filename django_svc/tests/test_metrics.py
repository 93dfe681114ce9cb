"""`/metrics`: requests by route template and status, in the Prometheus formats."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from config import metrics
from config.telemetry import MULTIPROC_DIR_ENV

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


def scrape(client: Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response["X-Request-ID"]
    return parse(response.content.decode())


def test_requests_are_counted_by_route_template_and_status() -> None:
    client = Client()
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/v1/users/987654321").status_code == 401
    assert client.get("/no/such/route/55554444").status_code == 404
    assert client.head("/health").status_code == 200
    after = scrape(client)

    def delta(**labels: str) -> float:
        return count(after, **labels) - count(before, **labels)

    assert delta(method="GET", handler="/api/v1/users/{id}", status="401") == 3
    assert delta(method="GET", handler="none", status="404") == 1
    assert delta(method="HEAD", handler="/health", status="200") == 1
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


def test_answers_of_the_middleware_count_too() -> None:
    client = Client()
    before = scrape(client)
    too_large = client.generic(
        "POST", "/api/v1/users", b"{}", "application/json", CONTENT_LENGTH=str(2**21)
    )
    assert too_large.status_code == 413
    after = scrape(client)
    # Refused before routing, so no route template is known.
    assert count(after, method="POST", handler="none", status="413") == (
        count(before, method="POST", handler="none", status="413") + 1
    )


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    response = Client().get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


def test_metrics_are_in_the_openapi_document() -> None:
    document = Client().get("/openapi.json").json()
    operation = document["paths"]["/metrics"]["get"]
    assert operation["operationId"] == "getMetrics"
    assert set(operation["responses"]["200"]["content"]) == {
        "text/plain",
        "application/openmetrics-text",
    }


WORKER = """
import django
django.setup()
from config import metrics
metrics.Metrics.get_instance().request_duration.labels(
    method="GET", handler="/health", status="200"
).observe(0.01)
"""


def test_the_exposition_adds_up_every_worker_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings")
    for _ in range(2):
        # Separate processes started with the directory set, as gunicorn's workers are.
        subprocess.run([sys.executable, "-c", WORKER], cwd=SERVICE, check=True)
    body, content_type = metrics.render_metrics(None)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert count(parse(body.decode()), method="GET", handler="/health", status="200") == 2
