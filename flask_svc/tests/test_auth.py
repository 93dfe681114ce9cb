from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from .conftest import PASSWORD, Api, bearer

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"
SECRET = "test-secret-key-that-is-long-enough-for-hs256-and-even-for-hs512!!"


def test_login_by_form_and_json(api: Api, client: FlaskClient) -> None:
    user = api.register()
    form = client.post(
        TOKEN,
        data={
            "username": user["email"].upper(),
            "password": PASSWORD,
            "grant_type": "password",
            "scope": "",
            "client_id": "swagger",
        },
    )
    assert form.status_code == 200
    assert form.headers["Cache-Control"] == "no-store"
    pair = form.get_json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 15 * 60
    as_json = client.post(TOKEN, json={"username": user["email"], "password": PASSWORD})
    assert as_json.status_code == 200


def test_token_shape(api: Api) -> None:
    user, pair = api.user_with_token()
    for token, kind in ((pair["access_token"], "access"), (pair["refresh_token"], "refresh")):
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
        assert claims["sub"] == str(user["id"])
        assert claims["type"] == kind
        assert {"sub", "type", "jti", "iat", "exp"} <= set(claims)
        assert not {"nbf", "csrf"} & set(claims)


def test_failed_logins_are_identical(app: Flask, api: Api, client: FlaskClient) -> None:
    user = api.register()
    inactive = api.register()
    admin = api.admin_token(app)
    client.post(f"/api/v1/users/{inactive['id']}/deactivate", headers=bearer(admin))
    bodies = set()
    for username, password in [
        ("nobody@example.com", PASSWORD),
        (user["email"], "wrong password"),
        (inactive["email"], PASSWORD),
    ]:
        response = client.post(TOKEN, data={"username": username, "password": password})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        bodies.add(response.get_data())
    assert len(bodies) == 1
    assert b"Incorrect email or password." in bodies.pop()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"username": "a@example.com", "password": "x", "grant_type": "client_credentials"}, 400),
        ({"username": "a@example.com", "password": "x", "grant_type": ""}, 400),
        ({"username": "a@example.com"}, 422),
        ({"username": "", "password": "x"}, 422),
        ({"username": "a@example.com", "password": "x", "extra": "1"}, 422),
        ({"username": "a@example.com", "password": "x" * 1025}, 422),
    ],
)
def test_login_form_errors(client: FlaskClient, data: dict[str, str], status: int) -> None:
    assert client.post(TOKEN, data=data).status_code == status


def test_login_json_grant_type(client: FlaskClient) -> None:
    body = {"username": "a@example.com", "password": "x", "grant_type": "refresh_token"}
    assert client.post(TOKEN, json=body).status_code == 400


def test_credentials_in_the_query_string_are_ignored(api: Api, client: FlaskClient) -> None:
    user = api.register()
    response = client.post(
        TOKEN, query_string={"username": user["email"], "password": PASSWORD}, data={}
    )
    assert response.status_code in (400, 422)


def test_login_needs_a_body_type(client: FlaskClient) -> None:
    response = client.post(TOKEN, data="username=a", content_type="text/plain")
    assert response.status_code == 415


def test_throttling(app: Flask, api: Api, client: FlaskClient) -> None:
    user = api.register()
    for _ in range(3):
        bad = client.post(TOKEN, data={"username": user["email"], "password": "wrong password"})
        assert bad.status_code == 401
    # Even the right password, and the same username however it is spelled.
    for username in (user["email"], f"  {user['email'].upper()} "):
        throttled = client.post(TOKEN, data={"username": username, "password": PASSWORD})
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert throttled.get_json()["detail"] == "Too many failed login attempts. Try again later."
    other_address = client.post(
        TOKEN,
        data={"username": user["email"], "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other_address.status_code == 200


def test_unknown_usernames_are_throttled_too(client: FlaskClient) -> None:
    for _ in range(3):
        client.post(TOKEN, data={"username": "ghost@example.com", "password": "wrong"})
    response = client.post(TOKEN, data={"username": "ghost@example.com", "password": "wrong"})
    assert response.status_code == 429


def test_throttle_window_ends(app_config: dict[str, Any], app: Flask, client: FlaskClient) -> None:
    from datetime import timedelta

    from app.extensions import db
    from app.models import LoginFailure

    for _ in range(3):
        client.post(TOKEN, data={"username": "late@example.com", "password": "wrong"})
    with app.app_context():
        row = db.session.scalars(db.select(LoginFailure)).one()
        row.window_started_at = row.window_started_at - timedelta(seconds=61)
        db.session.commit()
    response = client.post(TOKEN, data={"username": "late@example.com", "password": "wrong"})
    assert response.status_code == 401


def test_refresh_rotation_and_reuse(api: Api, client: FlaskClient) -> None:
    _, pair = api.user_with_token()
    first = client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    rotated = first.get_json()
    second = client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert second.status_code == 200
    latest = second.get_json()
    # Reuse of a rotated token revokes the whole family.
    reuse = client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert client.post(REFRESH, json={"refresh_token": latest["refresh_token"]}).status_code == 401


def test_refresh_refuses_access_tokens_and_junk(api: Api, client: FlaskClient) -> None:
    _, pair = api.user_with_token()
    for token in (pair["access_token"], "junk", ""):
        assert client.post(REFRESH, json={"refresh_token": token}).status_code == 401
    assert client.post(REFRESH, json={"refresh_token": 5}).status_code == 422
    assert client.post(REFRESH, json={"refresh_token": "x" * 1025}).status_code == 422


def test_refresh_token_from_elsewhere_starts_a_family(api: Api, client: FlaskClient) -> None:
    user, _ = api.user_with_token()
    now = int(time.time())
    foreign = jwt.encode(
        {
            "sub": str(user["id"]),
            "type": "refresh",
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 3600,
            "iss": "user-api",
        },
        SECRET,
        algorithm="HS256",
    )
    assert client.post(REFRESH, json={"refresh_token": foreign}).status_code == 200
    assert client.post(REFRESH, json={"refresh_token": foreign}).status_code == 401


def test_logout(api: Api, client: FlaskClient) -> None:
    _, pair = api.user_with_token()
    response = client.post(
        LOGOUT, json={"refresh_token": pair["refresh_token"]}, headers=bearer(pair)
    )
    assert response.status_code == 204
    assert client.get(ME, headers=bearer(pair)).status_code == 401
    assert client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}).status_code == 401


def test_logout_without_body(api: Api, client: FlaskClient) -> None:
    _, pair = api.user_with_token()
    assert client.post(LOGOUT, headers=bearer(pair)).status_code == 204
    assert client.get(ME, headers=bearer(pair)).status_code == 401
    # The refresh token was not sent, so it still works.
    assert client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}).status_code == 200


def test_logout_with_someone_elses_refresh_token(api: Api, client: FlaskClient) -> None:
    _, mine = api.user_with_token()
    _, theirs = api.user_with_token()
    for token in (theirs["refresh_token"], "junk"):
        session = api.login(api.client.get(ME, headers=bearer(mine)).get_json()["email"])
        response = client.post(LOGOUT, json={"refresh_token": token}, headers=bearer(session))
        assert response.status_code == 204
    assert client.post(REFRESH, json={"refresh_token": theirs["refresh_token"]}).status_code == 200
    assert client.post(LOGOUT, json={"other": 1}, headers=bearer(mine)).status_code == 422
