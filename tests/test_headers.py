"""Headers on every response: security headers, X-Request-ID, CORS."""

from __future__ import annotations

import uuid

import pytest

from contract import SECURITY_HEADERS
from helpers import ME, TOKEN, USERS, Api


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", ME),
        ("GET", "/nope"),
        ("POST", USERS),
        ("DELETE", "/health"),
    ],
)
def test_security_headers_on_success_and_errors(api: Api, method: str, path: str) -> None:
    response = api.client.request(method, path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize("value", ["abc-123", "A.b_c:d-9", "x" * 128, str(uuid.uuid4())])
def test_sane_request_id_is_echoed(api: Api, value: str) -> None:
    response = api.client.get("/health", headers={"X-Request-ID": value})
    assert response.headers["x-request-id"] == value


def test_request_id_is_echoed_on_errors(api: Api) -> None:
    response = api.client.get(ME, headers={"X-Request-ID": "err-trace-1"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "err-trace-1"


@pytest.mark.parametrize("value", ["x" * 129, "has space", "semi;colon", "<script>", "ünï"])
def test_unsafe_request_id_is_replaced_by_a_uuid(api: Api, value: str) -> None:
    response = api.client.get("/health", headers=[(b"X-Request-ID", value.encode("utf-8"))])
    replaced = response.headers["x-request-id"]
    assert replaced != value
    uuid.UUID(replaced)


def test_missing_request_id_gets_a_fresh_uuid(api: Api) -> None:
    first = api.client.get("/health").headers["x-request-id"]
    second = api.client.get("/health").headers["x-request-id"]
    uuid.UUID(first)
    uuid.UUID(second)
    assert first != second


def _allowed_origin(api: Api) -> str:
    if not api.origin:
        pytest.skip("the server's allowed CORS origin is unknown (CONTRACT_CORS_ORIGIN)")
    return api.origin


def test_cors_preflight_from_an_allowed_origin(api: Api) -> None:
    origin = _allowed_origin(api)
    response = api.client.options(
        ME,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, x-request-id",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "origin" in response.headers.get("vary", "").lower()
    methods = {
        m.strip().upper() for m in response.headers["access-control-allow-methods"].split(",")
    }
    assert "PATCH" in methods
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "x-request-id"} <= allowed
    assert response.headers["access-control-max-age"] == "600"


def test_cors_actual_request_from_an_allowed_origin(api: Api) -> None:
    origin = _allowed_origin(api)
    response = api.client.get("/health", headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "origin" in response.headers.get("vary", "").lower()
    exposed = response.headers.get("access-control-expose-headers", "").lower()
    assert "x-request-id" in exposed
    # Error answers carry CORS headers too, or browsers could not read them.
    error = api.client.get(ME, headers={"Origin": origin})
    assert error.status_code == 401
    assert error.headers["access-control-allow-origin"] == origin


def test_cors_other_origin_gets_no_cors_headers(api: Api) -> None:
    other = "http://evil.example.test"
    preflight = api.client.options(
        ME, headers={"Origin": other, "Access-Control-Request-Method": "GET"}
    )
    # Refused: no Allow-Origin, so the browser stops; the status is the CORS library's.
    assert preflight.status_code < 500
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-credentials" not in preflight.headers
    actual = api.client.get("/health", headers={"Origin": other})
    assert actual.status_code == 200
    assert "access-control-allow-origin" not in actual.headers
    assert "access-control-allow-credentials" not in actual.headers


def test_options_that_is_not_a_preflight_gets_the_frameworks_answer(api: Api) -> None:
    response = api.client.options(TOKEN)
    assert response.status_code in (200, 405)
    assert "POST" in response.headers["allow"].upper()
