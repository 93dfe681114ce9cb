"""Transport-level errors: routes, methods, media types, malformed and huge bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from helpers import (
    LOGOUT,
    ME,
    PASSWORD,
    REFRESH,
    TOKEN,
    USERS,
    Account,
    Api,
    make_client,
    problem,
    send_raw,
    status_line_code,
    unique_email,
)

MIB = 1024 * 1024


def _valid_user() -> dict[str, object]:
    return {"email": unique_email(), "password": "long enough pw", "name": "Body Test"}


# -- routes and methods ------------------------------------------------------------


@pytest.mark.parametrize("path", ["//api/v1/users/me", "//metrics", "//health"])
def test_paths_are_exact_a_doubled_leading_slash_is_404(api: Api, path: str) -> None:
    # Sent raw: an HTTP client reads `//metrics` as a host name.
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    assert status_line_code(send_raw(api, request.encode())) == 404


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/api/v1/users/",
        "/api/v1/users/me/",
        "/api/v1/auth/token/",
        "/health/",
        "/api/v1/Users",
        "/api/v2/users",
        "/api/v1//users",
        "/api/v1/users/me/password/",
    ],
)
def test_unknown_paths_are_404_problems_never_redirects(api: Api, path: str) -> None:
    for method in ("GET", "POST"):
        response = api.client.request(method, path, json={})
        assert response.status_code == 404


@pytest.mark.parametrize(
    "user_id", ["0", "-1", "abc", "1.5", "9223372036854775808", "1e3", "%201", "01", "+1"]
)
def test_bad_user_ids_are_404(api: Api, admin: dict[str, str], user_id: str) -> None:
    response = api.client.get(f"{USERS}/{user_id}", headers=admin)
    assert response.status_code == 404


@pytest.mark.parametrize("user_id", ["0", "9223372036854775808", "99999999999999999999"])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("PATCH", ""), ("DELETE", ""), ("POST", "/activate"), ("POST", "/deactivate")],
)
def test_bad_user_ids_are_404_for_every_method(
    api: Api, admin: dict[str, str], user_id: str, method: str, suffix: str
) -> None:
    # Routing decides before the method: no rule matches, so it is not a 405.
    response = api.client.request(method, f"{USERS}/{user_id}{suffix}", json={}, headers=admin)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", USERS, {"GET", "POST"}),
        ("DELETE", USERS, {"GET", "POST"}),
        ("GET", TOKEN, {"POST"}),
        ("GET", REFRESH, {"POST"}),
        ("DELETE", LOGOUT, {"POST"}),
        ("POST", ME, {"GET", "PATCH", "DELETE"}),
        ("PUT", ME, {"GET", "PATCH", "DELETE"}),
        ("GET", PASSWORD, {"PUT"}),
        ("POST", "/health", {"GET"}),
        ("DELETE", "/ready", {"GET"}),
        ("PUT", f"{USERS}/1", {"GET", "PATCH", "DELETE"}),
        ("GET", f"{USERS}/1/activate", {"POST"}),
        ("TRACE", "/health", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    response = api.client.request(method, path)
    assert response.status_code == 405
    named = {m.strip().upper() for m in response.headers["allow"].split(",")}
    assert allowed <= named
    assert named - allowed <= {"HEAD", "OPTIONS"}


# -- media types -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/xml", "multipart/form-data; boundary=x"]
)
def test_non_json_body_is_415(api: Api, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps(_valid_user()).encode()
    response = api.client.post(USERS, content=body, headers=headers)
    assert response.status_code == 415


def test_form_body_is_415_outside_the_token_endpoint(api: Api) -> None:
    response = api.client.post(USERS, data={"email": unique_email(), "name": "Form"})
    assert response.status_code == 415


def test_json_with_charset_is_accepted(api: Api) -> None:
    response = api.client.post(
        USERS,
        content=json.dumps(_valid_user()).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def test_token_endpoint_other_media_type_is_415(api: Api) -> None:
    response = api.client.post(
        TOKEN, content=b"username=a&password=b", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415


def test_logout_without_a_body_is_accepted_but_with_text_is_415(api: Api) -> None:
    account = api.register()
    text = api.client.post(
        LOGOUT, content=b"hello", headers={**account.headers, "Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    response = api.logout(account.access)
    assert response.status_code == 204
    assert api.me(account.access).status_code == 401


# -- malformed JSON ----------------------------------------------------------------

MALFORMED = [
    b"{",
    b"",
    b"not json",
    b'{"email": "a@b.c",}',
    b"\xff\xfe{}",
    b'{"email": "\xc3\x28"}',
    b'{"age": NaN, "email": "x@example.com", "password": "long enough", "name": "Nan"}',
    b'{"age": Infinity, "email": "x@example.com", "password": "long enough", "name": "Inf"}',
    b'{"age": -Infinity, "email": "x@example.com", "password": "long enough", "name": "Inf"}',
    b'{"name": "One", "name": "Two", "email": "d@example.com", "password": "long enough"}',
]


@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_json_is_400(api: Api, body: bytes) -> None:
    response = api.client.post(USERS, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("path", [REFRESH, PASSWORD, ME])
def test_malformed_json_is_400_everywhere(api: Api, reader: Account, path: str) -> None:
    account = reader
    method = {REFRESH: "POST", PASSWORD: "PUT", ME: "PATCH"}[path]
    response = api.client.request(
        method,
        path,
        content=b'{"a": 1, "a": 2}',
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_json_token_request_malformed_is_400(api: Api) -> None:
    response = api.client.post(TOKEN, content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def _nested(depth: int) -> bytes:
    """A user body whose `name` holds `depth` nested arrays."""
    inner = "[" * depth + "]" * depth
    return (
        '{"email": "deep@example.com", "password": "long enough", "name": ' + inner + "}"
    ).encode()


def test_deep_json_is_400(api: Api) -> None:
    response = api.client.post(
        USERS, content=_nested(100), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    very_deep = api.client.post(
        USERS, content=_nested(100_000), headers={"Content-Type": "application/json"}
    )
    assert very_deep.status_code in (400, 413)


def test_json_at_depth_64_is_well_formed(api: Api) -> None:
    # The object adds one level, the arrays 63: depth 64 is allowed, so the
    # answer is a field error, not a malformed body.
    response = api.client.post(
        USERS, content=_nested(63), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    too_deep = api.client.post(
        USERS, content=_nested(64), headers={"Content-Type": "application/json"}
    )
    assert too_deep.status_code == 400


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null", b"true"])
def test_json_that_is_not_an_object_is_422_body(api: Api, body: bytes) -> None:
    response = api.client.post(USERS, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "body" in {e["field"] for e in problem(response)["errors"]}


# -- size --------------------------------------------------------------------------


def _big_user_body(size: int) -> bytes:
    body = _valid_user()
    body["name"] = "x" * size
    return json.dumps(body).encode()


def test_body_over_1_mib_with_content_length_is_413(api: Api) -> None:
    before = api.client.get("/ready")
    assert before.status_code == 200
    response = api.client.post(
        USERS, content=_big_user_body(MIB + 10), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_chunked_body_over_1_mib_is_413(api: Api) -> None:
    payload = _big_user_body(MIB + 10)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    response = api.client.post(
        USERS, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_next_request_after_a_413_is_answered(api: Api, chunked: bool) -> None:
    # The refused body is left unread: the server drains it or says `Connection: close`,
    # never closes a connection it announced as kept alive.
    payload = _big_user_body(MIB + 10)
    with make_client(api.base_url) as client:
        for _ in range(3):
            content = iter([payload]) if chunked else payload
            response = client.post(
                USERS, content=content, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 413
            assert client.get("/health").status_code == 200


def test_form_body_over_1_mib_is_413(api: Api) -> None:
    # Also at the token endpoint (form data) the limit holds.
    response = api.client.post(
        TOKEN,
        content=b"username=a%40b.c&password=" + b"x" * (MIB + 10),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_chunked_body_under_1_mib_is_read(api: Api) -> None:
    payload = json.dumps(_valid_user()).encode()

    def chunks() -> Iterator[bytes]:
        yield payload[:10]
        yield payload[10:]

    response = api.client.post(
        USERS, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201


def test_body_just_under_1_mib_is_not_413(api: Api) -> None:
    body = _valid_user()
    skeleton = len(json.dumps({**body, "name": ""}).encode())
    body["name"] = "x" * (MIB - skeleton)
    raw = json.dumps(body).encode()
    assert len(raw) == MIB
    response = api.client.post(USERS, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422  # the name is too long, but the body was read
