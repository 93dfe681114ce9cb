"""`/metrics`: requests by route template and status, in the Prometheus formats."""

import subprocess
import sys
from pathlib import Path

import pytest
from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from app import metrics
from app.config import SERVICE_DIR
from app.telemetry import MULTIPROC_DIR_ENV

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


async def scrape(client: AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["x-request-id"]
    return parse(response.text)


async def test_requests_are_counted_by_route_template_and_status(client: AsyncClient) -> None:
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/api/v1/users/987654321")).status_code == 401
    assert (await client.get("/no/such/route/55554444")).status_code == 404
    assert (await client.head("/health")).status_code == 200
    after = await scrape(client)

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


async def test_openmetrics_when_the_scraper_asks_for_it(client: AsyncClient) -> None:
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_metrics_are_in_the_openapi_document(client: AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/metrics"]["get"]
    assert operation["operationId"] == "getMetrics"
    assert set(operation["responses"]["200"]["content"]) == {
        "text/plain",
        "application/openmetrics-text",
    }


WORKER = """
from app import metrics
metrics.REQUEST_DURATION.labels(method="GET", handler="/health", status="200").observe(0.01)
"""


def test_the_exposition_adds_up_every_worker_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_DIR_ENV, str(tmp_path))
    for _ in range(2):
        # Separate processes started with the directory set, as uvicorn's workers are.
        subprocess.run([sys.executable, "-c", WORKER], cwd=SERVICE_DIR, check=True)  # noqa: S603
    body, content_type = metrics.render_metrics(None)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert count(parse(body.decode()), method="GET", handler="/health", status="200") == 2
