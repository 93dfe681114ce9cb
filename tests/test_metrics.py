"""`/metrics`: the whole service's requests by route template and status.

The names and labels are the ones shared_contract/README.md documents for every
service: the histogram `http_request_duration_seconds{method, handler, status}`,
whose `_count` counts requests.
"""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from helpers import ME, USERS, Account, Api, bearer, log_entry, race, wait_until
from servers import RunningServer

DURATION = "http_request_duration_seconds"
# The documented buckets, the same in every service.
BUCKETS = {
    "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75",
    "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf",
}  # fmt: skip
TEXT_FORMAT = "text/plain; version=0.0.4"
# A user id nobody has, distinctive enough to spot in a label value.
ABSENT_ID = 918273645546372819

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(response: httpx.Response) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def scrape(api: Api) -> Samples:
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(TEXT_FORMAT)
    return parse(response)


def requests(samples: Samples, method: str, handler: str, status: int) -> float:
    labels = frozenset({"method": method, "handler": handler, "status": str(status)}.items())
    return samples.get((f"{DURATION}_count", labels), 0.0)


Series = tuple[str, str, int]


def scrape_settled(api: Api, before: Samples, expected: dict[Series, int]) -> Samples:
    """A scrape once the counts have grown by `expected`, or the last one tried.

    A service may record a request just after its answer has left (FastAPI's
    instrumentation does), so the first scrape can come a moment too early.
    """
    latest: Samples = {}

    def grown() -> bool:
        nonlocal latest
        latest = scrape(api)
        return all(
            requests(latest, *series) - requests(before, *series) >= count
            for series, count in expected.items()
        )

    wait_until(grown, timeout=5, interval=0.1)
    return latest


def added(before: Samples, after: Samples, series: Series) -> float:
    return requests(after, *series) - requests(before, *series)


def test_metrics_are_the_prometheus_text_format(api: Api) -> None:
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(TEXT_FORMAT)
    assert f"# TYPE {DURATION} histogram" in response.text
    head = api.client.head("/metrics")
    assert head.status_code == 200
    assert head.content == b""


def test_openmetrics_when_the_scraper_asks_for_it(api: Api) -> None:
    response = api.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_every_worker_counts_exactly_once(api: Api, reader: Account) -> None:
    before = scrape(api)
    each = 20

    # Many connections at once (the suite's clients never reuse one), so that
    # both worker processes answer some of them.
    def call(index: int) -> int:
        if index % 2:
            return api.client.get(f"{USERS}/{ABSENT_ID}").status_code
        return api.client.get(ME, headers=bearer(reader.access)).status_code

    statuses = race(2 * each, call)
    assert sorted(statuses) == [200] * each + [401] * each
    expected: dict[Series, int] = {("GET", f"{USERS}/{{id}}", 401): each, ("GET", ME, 200): each}
    scrape_settled(api, before, expected)
    # Whichever worker answers a scrape, it reports the whole service.
    for _ in range(4):
        after = scrape(api.across_workers)
        assert {series: added(before, after, series) for series in expected} == expected


def test_labels_hold_route_templates_never_raw_paths(api: Api, admin: dict[str, str]) -> None:
    account = api.register(login=False)
    unknown = f"/no-such-route-{uuid.uuid4().hex}/{ABSENT_ID}"
    before = scrape(api)
    assert api.client.get(unknown).status_code == 404
    assert api.client.get(f"{USERS}/{account.id}").status_code == 401
    listed = api.client.get(USERS, params={"search": account.email}, headers=admin)
    assert listed.status_code == 200
    expected: dict[Series, int] = {
        ("GET", "none", 404): 1,
        ("GET", f"{USERS}/{{id}}", 401): 1,
        ("GET", USERS, 200): 1,
        # Scrapes are not traffic.
        ("GET", "/metrics", 200): 0,
    }
    after = scrape_settled(api, before, expected)
    assert {series: added(before, after, series) for series in expected} == expected
    values = {value for _, labels in after for _, value in labels}
    raw = (unknown, str(ABSENT_ID), f"{USERS}/{account.id}", account.email)
    assert not [value for value in values if any(part in value for part in raw)]


def test_the_histogram_has_the_documented_buckets(api: Api) -> None:
    before = scrape(api)
    assert api.client.get("/health").status_code == 200
    samples = scrape_settled(api, before, {("GET", "/health", 200): 1})
    buckets = {
        dict(labels)["le"]
        for name, labels in samples
        if name == f"{DURATION}_bucket" and dict(labels)["handler"] == "/health"
    }
    assert buckets == BUCKETS


def test_scrapes_get_the_headers_and_log_line_of_every_request(
    server: RunningServer, api: Api
) -> None:
    request_id = f"scrape-{uuid.uuid4().hex}"
    response = api.client.get("/metrics", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id

    record = log_entry(server, request_id)
    assert (record["method"], record["path"], record["status"]) == ("GET", "/metrics", 200)
