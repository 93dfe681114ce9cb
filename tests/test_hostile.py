"""What an adversarial client tries: bodies, methods and headers no honest client sends.

Each answer is a client error in the problem format, never a 500, and nothing a
client sends grows the metrics or echoes back into a `detail`.
"""

from __future__ import annotations

import uuid

import pytest

from helpers import TOKEN, USERS, Api, make_client, send_raw, status_line_code
from test_metrics import requests, scrape


def _post_head(path: str, headers: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode()


def test_numbers_of_thousands_of_digits_are_refused(api: Api) -> None:
    huge = "9" * 5000
    login = api.client.post(
        TOKEN,
        content=f'{{"username": {huge}, "password": "x"}}',
        headers={"Content-Type": "application/json"},
    )
    assert login.status_code in (400, 422)
    register = api.client.post(
        USERS,
        content=f'{{"email": "a@b.io", "password": "long enough", "name": "A", "age": {huge}}}',
        headers={"Content-Type": "application/json"},
    )
    assert register.status_code in (400, 422)


def test_a_malformed_chunk_size_is_a_client_error(api: Api) -> None:
    head = _post_head(
        USERS,
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
    )
    assert status_line_code(send_raw(api, head, b"zz\r\n{}\r\n0\r\n\r\n")) == 400


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_client_that_leaves_mid_body_is_not_a_server_error(api: Api, framing: str) -> None:
    before = scrape(api)
    headers = (
        "Content-Length: 1000\r\n"
        if framing == "content-length"
        else "Transfer-Encoding: chunked\r\n"
    )
    head = _post_head(USERS, f"Content-Type: application/json\r\n{headers}")
    start = b'{"email": "' if framing == "content-length" else b'b\r\n{"email": "'
    for _ in range(3):
        send_raw(api, head, start, hang_up=True)
    assert api.client.get("/health").status_code == 200
    after = scrape(api)
    assert requests(after, "POST", "/api/v1/users", 500) == requests(
        before, "POST", "/api/v1/users", 500
    )


def test_unknown_methods_share_one_metrics_label(api: Api) -> None:
    methods = [f"X{uuid.uuid4().hex[:8].upper()}" for _ in range(5)]
    # A server may refuse them itself, with a body of its own.
    with make_client(api.base_url, validate=False) as client:
        for method in methods:
            assert client.request(method, "/health").status_code in (400, 405, 501)
    text = api.client.get("/metrics").text
    assert not [method for method in methods if method in text]


def test_the_errors_list_has_at_most_20_entries(api: Api) -> None:
    body = {f"unknown_{i}": i for i in range(50)}
    response = api.client.post(USERS, json=body)
    assert response.status_code == 422
    assert 1 <= len(response.json()["errors"]) <= 20


def test_a_detail_never_echoes_the_request(api: Api) -> None:
    marker = "<script>alert(1)</script>"
    response = api.client.post(
        TOKEN,
        content=f"username=a%40b.io&password=x&{marker}=1&{marker}=2".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (400, 422)
    assert "script" not in response.json()["detail"]


@pytest.mark.parametrize("size", [9 * 1024, 70 * 1024])
def test_oversized_request_headers_are_refused(api: Api, size: int) -> None:
    big = f"X-Big: {'a' * size}\r\nConnection: close\r\n"
    head = f"GET /health HTTP/1.1\r\nHost: localhost\r\n{big}\r\n"
    assert status_line_code(send_raw(api, head.encode())) in (400, 431)


@pytest.mark.parametrize("host", ["bad host!", "a/b", "evil.example:xx"])
def test_a_host_header_that_is_no_host_is_400(api: Api, host: str) -> None:
    # Page links are built from the Host: never `http:///api/v1/users?...`.
    head = f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    assert status_line_code(send_raw(api, head.encode())) == 400
