"""The HTTP surface in-process: flows, problem bodies, headers, the OpenAPI document."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from .helpers import PASSWORD, assert_problem, bearer, login, register, unique_email

JSON = {"content-type": "application/json"}


async def _admin(client: AsyncClient, app: FastAPI) -> dict[str, Any]:
    from app import services
    from app.schemas import UserCreate

    email = unique_email()
    async with app.state.sessionmaker() as session:
        data = UserCreate(email=email, password=PASSWORD, name="Admin")
        await services.create_user(session, app.state.settings, data=data, is_admin=True)
    return await login(client, email)


async def test_register_login_me(client: AsyncClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/v1/users", json={"email": email, "password": PASSWORD, "name": "  Ada  ", "age": 36}
    )
    assert response.status_code == 201
    user = response.json()
    assert response.headers["location"] == f"/api/v1/users/{user['id']}"
    assert user["email"] == email.lower()
    assert user["name"] == "Ada"
    assert user["created_at"].endswith("Z")
    assert set(user) == {
        *("id", "email", "name", "age", "is_active", "is_admin", "created_at"),
        *("email_verified", "last_login_at"),
    }
    tokens = await login(client, email.upper())
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"bEaReR {tokens['access_token']}"}
    )
    assert me.json() == {**user, "last_login_at": me.json()["last_login_at"]}
    assert me.json()["last_login_at"] is not None


async def test_login_by_json_and_token_response_headers(client: AsyncClient) -> None:
    user = await register(client)
    response = await client.post(
        "/api/v1/auth/token",
        json={"username": user["email"], "password": PASSWORD, "grant_type": "password"},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        (
            {"data": {"username": "a@b.io", "password": "x", "grant_type": "client_credentials"}},
            400,
        ),
        ({"data": {"username": "a@b.io", "password": "x", "other": "y"}}, 422),
        ({"json": {"username": "a@b.io", "password": "x", "scope": "y"}}, 422),
        ({"content": b"username=a", "headers": {"content-type": "text/plain"}}, 415),
        ({"content": b"", "headers": JSON}, 400),
    ],
)
async def test_token_endpoint_input(
    client: AsyncClient, kwargs: dict[str, Any], status: int
) -> None:
    assert_problem(await client.post("/api/v1/auth/token", **kwargs), status)


async def test_failed_logins_are_identical_and_throttled(client: AsyncClient) -> None:
    user = await register(client)
    wrong = await client.post(
        "/api/v1/auth/token", data={"username": user["email"], "password": "nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/token", data={"username": "x@y.io", "password": "nope"}
    )
    assert_problem(wrong, 401)
    assert wrong.content == unknown.content
    assert wrong.headers["www-authenticate"] == "Bearer"
    await client.post("/api/v1/auth/token", data={"username": user["email"], "password": "nope"})
    await client.post("/api/v1/auth/token", data={"username": user["email"], "password": "nope"})
    throttled = await client.post(
        "/api/v1/auth/token", data={"username": user["email"], "password": PASSWORD}
    )
    assert_problem(throttled, 429)
    assert 1 <= int(throttled.headers["retry-after"]) <= 60


async def test_refresh_rotation_logout_and_password_change(client: AsyncClient) -> None:
    user = await register(client)
    first = await login(client, user["email"])
    rotated = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert_problem(reuse, 401)
    assert reuse.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    second = await login(client, user["email"])
    logout = await client.post(
        "/api/v1/auth/logout",
        headers=bearer(second),
        json={"refresh_token": second["refresh_token"]},
    )
    assert logout.status_code == 204
    assert_problem(await client.get("/api/v1/users/me", headers=bearer(second)), 401)

    third = await login(client, user["email"])
    change = await client.put(
        "/api/v1/users/me/password",
        headers=bearer(third),
        json={"current_password": PASSWORD, "new_password": "brand new password"},
    )
    assert change.status_code == 204
    assert_problem(await client.get("/api/v1/users/me", headers=bearer(third)), 401)
    fresh = await login(client, user["email"], "brand new password")
    assert (await client.get("/api/v1/users/me", headers=bearer(fresh))).status_code == 200


async def test_wrong_current_password_names_the_field(client: AsyncClient) -> None:
    user = await register(client)
    tokens = await login(client, user["email"])
    response = await client.put(
        "/api/v1/users/me/password",
        headers=bearer(tokens),
        json={"current_password": "wrong", "new_password": "brand new password"},
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "current_password"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"age": "36"}, "age"),
        ({"age": True}, "age"),
        ({"age": 36.5}, "age"),
        ({"age": 151}, "age"),
        ({"name": 12}, "name"),
        ({"name": " a "}, "name"),
        ({"name": "A\u0000da"}, "name"),
        ({"email": ["a@b.io"]}, "email"),
        ({"email": "not an email"}, "email"),
        ({"password": "       \t "}, "password"),
        ({"password": "short"}, "password"),
        ({"is_admin": True}, "is_admin"),
    ],
)
async def test_registration_rules(client: AsyncClient, body: dict[str, Any], field: str) -> None:
    payload = {"email": unique_email(), "password": PASSWORD, "name": "Ada"} | body
    problem = assert_problem(await client.post("/api/v1/users", json=payload), 422)
    assert field in [e["field"] for e in problem["errors"]]


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"a": NaN}', 400),
        (b'{"a": Infinity}', 400),
        (b'{"a": 1, "a": 1}', 400),
        (b"[" * 65 + b"]" * 65, 400),
        (b"[" * 100_000, 400),
        (b'{"name": "\xff"}', 400),
        (b"{", 400),
        (b"[]", 422),
        (b'{"email": "a@b.io", "password": "\\ud800xxxxxxxx", "name": "Ada"}', 422),
    ],
)
async def test_malformed_bodies(client: AsyncClient, content: bytes, status: int) -> None:
    assert_problem(await client.post("/api/v1/users", content=content, headers=JSON), status)


async def test_content_type_and_size(client: AsyncClient) -> None:
    assert_problem(await client.post("/api/v1/users", content=b"{}"), 415)
    assert_problem(
        await client.post("/api/v1/users", content=b"{}", headers={"content-type": "text/plain"}),
        415,
    )
    big = b" " * (1024 * 1024 + 1)
    assert_problem(await client.post("/api/v1/users", content=big, headers=JSON), 413)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    assert_problem(await client.post("/api/v1/users", content=chunks(), headers=JSON), 413)


async def test_routing_errors(client: AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/users/"), 404)
    assert_problem(await client.get("/nowhere"), 404)
    response = await client.put("/api/v1/users/me")
    assert_problem(response, 405)
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}
    assert_problem(await client.options("/api/v1/users"), 405)
    head = await client.head("/health")
    assert head.status_code == 200
    assert head.content == b""


async def test_admin_endpoints(client: AsyncClient, app: FastAPI) -> None:
    admin = await _admin(client, app)
    user = await register(client, name="Searchable Ödön")
    user_tokens = await login(client, user["email"])
    assert_problem(
        await client.get(f"/api/v1/users/{user['id']}", headers=bearer(user_tokens)), 403
    )
    assert_problem(await client.get("/api/v1/users/999999", headers=bearer(user_tokens)), 403)
    for path in ("999999", "0", str(2**63), "abc"):
        assert_problem(await client.get(f"/api/v1/users/{path}", headers=bearer(admin)), 404)

    page = (
        await client.get("/api/v1/users?search=ödÖN&is_active=true", headers=bearer(admin))
    ).json()
    assert [u["id"] for u in page["results"]] == [user["id"]]
    first = (await client.get("/api/v1/users?limit=1", headers=bearer(admin))).json()
    assert first["count"] == 2
    assert first["next"] == "http://testserver/api/v1/users?limit=1&offset=1"
    assert first["previous"] is None
    assert_problem(await client.get("/api/v1/users?limit=101", headers=bearer(admin)), 422)
    assert_problem(await client.get("/api/v1/users?is_active=1", headers=bearer(admin)), 422)

    deactivated = await client.post(f"/api/v1/users/{user['id']}/deactivate", headers=bearer(admin))
    assert deactivated.json()["is_active"] is False
    assert_problem(await client.get("/api/v1/users/me", headers=bearer(user_tokens)), 401)
    await client.post(f"/api/v1/users/{user['id']}/activate", headers=bearer(admin))
    # Deactivation ended the session: the old token stays dead, a new login works.
    assert_problem(await client.get("/api/v1/users/me", headers=bearer(user_tokens)), 401)
    user_tokens = await login(client, user["email"])
    promoted = await client.patch(
        f"/api/v1/users/{user['id']}", headers=bearer(admin), json={"is_admin": True, "age": None}
    )
    assert promoted.json()["is_admin"] is True
    assert (await client.get("/api/v1/users", headers=bearer(user_tokens))).status_code == 200
    assert (
        await client.delete(f"/api/v1/users/{user['id']}", headers=bearer(admin))
    ).status_code == 204
    assert_problem(await client.get("/api/v1/users/me", headers=bearer(user_tokens)), 401)


async def test_headers_cors_and_request_id(client: AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id!"})
    assert generated.headers["x-request-id"] != "bad id!"

    preflight = await client.options(
        "/api/v1/users",
        headers={"Origin": "http://allowed.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://allowed.example"
    assert preflight.headers["access-control-max-age"] == "600"
    refused = await client.options(
        "/api/v1/users",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    # Starlette's CORSMiddleware refuses it with a 400 and no Allow-Origin: the browser
    # stops there.
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert refused.headers["x-request-id"]
    actual = await client.get("/health", headers={"Origin": "http://allowed.example"})
    assert actual.headers["access-control-allow-origin"] == "http://allowed.example"
    assert "Origin" in actual.headers["vary"]


async def test_docs_are_served_locally(client: AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    script = await client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert 'PACKAGE_VERSION:"5.' in script.text
    assert (await client.get("/static/swagger-ui/favicon.png")).status_code == 200


# The contract's operations: path, method -> (operationId, status codes).
CONTRACT_OPERATIONS: dict[tuple[str, str], tuple[str, set[str]]] = {
    ("/api/v1/users", "post"): ("registerUser", {"201", "400", "409", "413", "415", "422", "503"}),
    ("/api/v1/users", "get"): ("listUsers", {"200", "401", "403", "422", "503"}),
    ("/api/v1/auth/token", "post"): (
        "login",
        {"200", "400", "401", "403", "413", "415", "422", "429", "503"},
    ),
    ("/api/v1/auth/password-reset", "post"): (
        "requestPasswordReset",
        {"202", "400", "413", "415", "422", "503"},
    ),
    ("/api/v1/auth/password-reset/confirm", "post"): (
        "confirmPasswordReset",
        {"204", "400", "413", "415", "422", "503"},
    ),
    ("/api/v1/auth/verify-email", "post"): (
        "verifyEmail",
        {"200", "400", "413", "415", "422", "503"},
    ),
    ("/api/v1/users/me/verification-email", "post"): (
        "resendVerificationEmail",
        {"202", "401", "409", "503"},
    ),
    ("/api/v1/users/me/sessions", "get"): ("listSessions", {"200", "401", "503"}),
    ("/api/v1/users/me/sessions", "delete"): ("deleteSessions", {"204", "401", "503"}),
    ("/api/v1/users/me/sessions/{session_id}", "delete"): (
        "deleteSession",
        {"204", "401", "404", "503"},
    ),
    ("/api/v1/auth/refresh", "post"): (
        "refreshTokens",
        {"200", "400", "401", "413", "415", "422", "503"},
    ),
    ("/api/v1/auth/logout", "post"): ("logout", {"204", "400", "401", "413", "415", "422", "503"}),
    ("/api/v1/users/me", "get"): ("getCurrentUser", {"200", "401", "503"}),
    ("/api/v1/users/me", "patch"): (
        "updateCurrentUser",
        {"200", "400", "401", "409", "413", "415", "422", "503"},
    ),
    ("/api/v1/users/me", "delete"): ("deleteCurrentUser", {"204", "401", "409", "503"}),
    ("/api/v1/users/me/password", "put"): (
        "changePassword",
        {"204", "400", "401", "413", "415", "422", "429", "503"},
    ),
    ("/api/v1/users/{id}", "get"): ("getUser", {"200", "401", "403", "404", "503"}),
    ("/api/v1/users/{id}", "patch"): (
        "updateUser",
        {"200", "400", "401", "403", "404", "409", "413", "415", "422", "503"},
    ),
    ("/api/v1/users/{id}", "delete"): ("deleteUser", {"204", "401", "403", "404", "409", "503"}),
    ("/api/v1/users/{id}/activate", "post"): ("activateUser", {"200", "401", "403", "404", "503"}),
    ("/api/v1/users/{id}/deactivate", "post"): (
        "deactivateUser",
        {"200", "401", "403", "404", "409", "503"},
    ),
    ("/health", "get"): ("getHealth", {"200"}),
    ("/ready", "get"): ("getReadiness", {"200", "503"}),
    ("/metrics", "get"): ("getMetrics", {"200"}),
}


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], tuple[str, set[str]]]:
    return {
        (path, method): (operation["operationId"], set(operation["responses"]))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch", "head", "options"}
    }


async def test_openapi_has_exactly_the_contract_operations(client: AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert _operations(document) == CONTRACT_OPERATIONS


async def test_unexpected_errors_are_problem_bodies(app: FastAPI, client: AsyncClient) -> None:
    async def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    app.add_api_route("/boom", boom)
    response = await client.get("/boom")
    body = assert_problem(response, 500)
    assert "internal detail" not in response.text
    assert body["title"] == "Internal Server Error"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]


# --8<-- [start:one_statement]
async def test_an_authenticated_request_reads_the_user_and_the_deny_list_in_one_statement(
    client: AsyncClient, app: FastAPI
) -> None:
    from sqlalchemy import event

    tokens = await login(client, (await register(client))["email"])
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await client.get("/api/v1/users/me", headers=bearer(tokens))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    assert len(statements) == 1, statements
    await client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=bearer(tokens),
    )
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 401
    # --8<-- [end:one_statement]
