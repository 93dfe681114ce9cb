import io
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client, override_settings

URL = "/api/v1/users"
JSON = "application/json"


@pytest.fixture
def raw() -> Client:
    return Client()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b'{"email": ',
        b'{"age": NaN}',
        b'{"age": Infinity}',
        b'{"name": "a", "name": "b"}',
        b"\xff\xfe",
        b"[" * 65 + b"]" * 65,
        b"",
    ],
)
def test_malformed_json_is_400(raw: Client, body: bytes) -> None:
    response = raw.post(URL, body, content_type=JSON)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["title"] == "Bad Request"


@pytest.mark.django_db
def test_depth_64_is_parsed(raw: Client) -> None:
    body = b"[" * 64 + b"]" * 64
    assert raw.post(URL, body, content_type=JSON).status_code == HTTPStatus.UNPROCESSABLE_ENTITY


@pytest.mark.django_db
def test_other_content_types_are_415(raw: Client) -> None:
    response = raw.post(URL, b"email=a", content_type="text/plain")
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    response = raw.generic("POST", URL, b'{"a": 1}', content_type="")
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE


@pytest.mark.django_db
def test_body_over_one_mib_is_413(raw: Client) -> None:
    body = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    response = raw.post(URL, body, content_type=JSON)
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json()["title"] == "Content Too Large"


@pytest.mark.django_db
def chunked(raw: Client, body: bytes) -> Any:
    """A body without Content-Length, as gunicorn hands a chunked upload to Django."""
    environ: dict[str, Any] = {
        "wsgi.input": io.BytesIO(body),
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": JSON,
        "CONTENT_LENGTH": "",
    }
    return raw.generic("POST", URL, **environ)


@pytest.mark.django_db
def test_chunked_body_is_counted_as_it_streams(raw: Client) -> None:
    big = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    assert chunked(raw, big).status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    small = b'{"email": "c@example.com", "password": "password123", "name": "Chunk"}'
    assert chunked(raw, small).status_code == HTTPStatus.CREATED


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/users/", "/api/v1/Users", "/nope", "/api/v1/users/me/"])
def test_unknown_paths_are_404_problems_never_redirects(raw: Client, path: str) -> None:
    response = raw.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
def test_wrong_method_is_405_with_allow_before_auth(raw: Client) -> None:
    response = raw.put(URL)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert set(response["Allow"].split(", ")) >= {"GET", "POST"}
    assert raw.options("/api/v1/users/me").status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert raw.delete("/health").status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_health_head_and_headers(raw: Client) -> None:
    response = raw.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"] == "abc-123"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "no-referrer"
    assert raw.head("/health").status_code == HTTPStatus.OK
    generated = raw.get("/health", HTTP_X_REQUEST_ID="bad id!")["X-Request-ID"]
    assert generated != "bad id!"
    assert len(generated) == 36


@pytest.mark.django_db
def test_ready(raw: Client) -> None:
    assert raw.get("/ready").json() == {"status": "ok"}


@override_settings(CORS_ALLOWED_ORIGINS=["http://ok.example"])
def test_cors_for_listed_origins_only(raw: Client) -> None:
    preflight = raw.options(
        "/api/v1/users/me",
        HTTP_ORIGIN="http://ok.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert preflight.status_code == HTTPStatus.OK
    assert preflight["Access-Control-Allow-Origin"] == "http://ok.example"
    assert preflight["Access-Control-Max-Age"] == "600"
    assert "authorization" in preflight["Access-Control-Allow-Headers"].lower()
    other = raw.options(
        "/api/v1/users/me",
        HTTP_ORIGIN="http://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    # django-cors-headers answers every preflight itself; an unlisted origin gets
    # no Allow-Origin, and the browser stops there.
    assert other.status_code == HTTPStatus.OK
    assert "Access-Control-Allow-Origin" not in other
    actual = raw.get("/health", HTTP_ORIGIN="http://ok.example")
    assert actual["Access-Control-Allow-Origin"] == "http://ok.example"
    assert "X-Request-ID" in actual["Access-Control-Expose-Headers"]
