"""Bodies, media types, paths, methods and the headers on every response."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

USERS = "/api/v1/users"
BODY = {"email": "t@example.com", "password": "correct horse", "name": "Tee"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem: dict[str, Any] = response.get_json()
    assert problem["type"] == "about:blank"
    assert problem["status"] == status
    return problem


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"email": NaN}',
        b'{"age": Infinity}',
        b'{"email": "a", "email": "b"}',
        b"\xff\xfe",
        b"[" * 65 + b"]" * 65,
        b"[" * 100000,
        b"   ",
    ],
)
def test_malformed_json_is_400(client: FlaskClient, raw: bytes) -> None:
    response = client.post(USERS, data=raw, content_type="application/json")
    assert _problem(response, 400)["title"] == "Bad Request"


def test_depth_64_is_allowed(client: FlaskClient) -> None:
    nested: Any = 1
    for _ in range(63):
        nested = [nested]
    response = client.post(USERS, json={**BODY, "extra": nested})
    # Parsed fine; refused only because the field is unknown.
    assert _problem(response, 422)["errors"][0]["field"] == "extra"


def test_media_types(client: FlaskClient) -> None:
    raw = json.dumps(BODY)
    assert client.post(USERS, data=raw, content_type="text/plain").status_code == 415
    assert client.post(USERS, data=raw, headers={"Content-Type": ""}).status_code == 415
    ok = client.post(USERS, data=raw, content_type="application/json; charset=utf-8")
    assert ok.status_code == 201


def test_oversized_body_is_413(client: FlaskClient) -> None:
    response = client.post(USERS, data=b" " * (1024 * 1024 + 1), content_type="application/json")
    assert _problem(response, 413)["title"] == "Content Too Large"


def test_oversized_chunked_body_is_413(client: FlaskClient) -> None:
    # What gunicorn hands over for a chunked upload: no length, a terminated stream.
    stream = io.BytesIO(b" " * (1024 * 1024 + 1))
    response = client.post(
        USERS,
        input_stream=stream,
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    _problem(response, 413)


def test_chunked_body_within_the_limit(client: FlaskClient) -> None:
    raw = json.dumps(BODY).encode().ljust(1024 * 1024)
    response = client.post(
        USERS,
        input_stream=io.BytesIO(raw),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/users/", "/api//v1/users", "/API/v1/users", "/nope"])
def test_paths_are_exact(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    _problem(response, 404)
    assert "Location" not in response.headers


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.put(USERS)
    _problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    me = client.post(f"{USERS}/me")
    assert set(me.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}


ALLOWED_ORIGIN = "http://allowed.test"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture
def cors_app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["CORS_ALLOWED_ORIGINS"] = [ALLOWED_ORIGIN]
    return app_config


def test_preflights_get_cors_headers_for_listed_origins_only(
    cors_app_config: dict[str, Any], client: FlaskClient
) -> None:
    response = client.options(USERS, headers={"Origin": ALLOWED_ORIGIN, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in response.headers["Vary"]
    # Flask answers every OPTIONS itself; an unlisted origin gets no Allow-Origin.
    other = client.options(USERS, headers={"Origin": "http://evil.test", **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "POST" in client.options(USERS).headers["Allow"]


def test_cors_on_actual_requests(cors_app_config: dict[str, Any], client: FlaskClient) -> None:
    allowed = client.get("/health", headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/health", headers={"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_security_headers_everywhere(client: FlaskClient) -> None:
    for response in (client.get("/health"), client.get("/nope"), client.put(USERS)):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_request_id(client: FlaskClient) -> None:
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    for bad in ("x" * 129, "has space", "<script>"):
        generated = client.get("/health", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert generated != bad
        assert len(generated) == 36


def test_one_json_log_line_per_request(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("app.access")
    logger.addHandler(caplog.handler)
    try:
        client.post(
            USERS, json={**BODY, "password": "secret password"}, headers={"X-Request-ID": "r1"}
        )
    finally:
        logger.removeHandler(caplog.handler)
    (record,) = [r for r in caplog.records if r.name == "app.access"]
    formatter = logger.handlers[0].formatter
    assert formatter is not None
    fields = json.loads(formatter.format(record))
    assert (fields["level"], fields["message"]) == ("INFO", "request")
    assert fields["time"]
    assert fields["request_id"] == "r1"
    assert fields["method"] == "POST"
    assert fields["path"] == USERS
    assert fields["status"] == 201
    assert fields["duration_ms"] >= 0
    assert "secret password" not in json.dumps(fields)


def test_trusted_proxy_address(app_config: dict[str, Any], app: Flask) -> None:
    from app.middleware import TrustedProxyMiddleware

    seen: list[str] = []

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["REMOTE_ADDR"])
        return []

    middleware = TrustedProxyMiddleware(inner, ["10.0.0.1"])
    forwarded = "203.0.113.5, 10.0.0.1"
    middleware({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": forwarded}, None)  # type: ignore[arg-type]
    middleware({"REMOTE_ADDR": "192.0.2.9", "HTTP_X_FORWARDED_FOR": forwarded}, None)  # type: ignore[arg-type]
    assert seen == ["203.0.113.5", "192.0.2.9"]


def test_no_internals_in_500(app: Flask, client: FlaskClient) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("SELECT secret FROM internals")

    response = client.get("/boom")
    assert b"SELECT" not in response.get_data()
    _problem(response, 500)
