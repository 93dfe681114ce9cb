from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import PASSWORD, Api, bearer

USERS = "/api/v1/users"
ME = "/api/v1/users/me"


def test_register(client: FlaskClient) -> None:
    response = client.post(
        USERS, json={"email": "Ada@Example.COM", "password": PASSWORD, "name": "  Ada  ", "age": 36}
    )
    assert response.status_code == 201
    user = response.get_json()
    assert response.headers["Location"] == f"/api/v1/users/{user['id']}"
    assert user["email"] == "ada@example.com"
    assert user["name"] == "Ada"
    assert user["age"] == 36
    assert user["is_active"] is True
    assert user["is_admin"] is False
    assert user["created_at"].endswith("Z")
    assert "password" not in user


def test_email_taken_in_any_case_is_409(api: Api, client: FlaskClient) -> None:
    api.register("grace@example.com")
    response = client.post(
        USERS, json={"email": "GRACE@example.com", "password": PASSWORD, "name": "Grace"}
    )
    assert response.status_code == 409
    assert response.get_json()["detail"] == "A user with this email already exists."


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", "36"),
        ("age", True),
        ("age", 36.5),
        ("age", 101.5),
        ("age", -1),
        ("age", 151),
        ("name", 5),
        ("name", " a "),
        ("name", "x" * 101),
        ("name", "Ada\u0000"),
        ("name", "Ada\ud800"),
        ("email", ["a@example.com"]),
        ("email", "not-an-email"),
        ("email", " a@example.com"),
        ("email", "a" * 250 + "@x.io"),
        ("password", "short"),
        ("password", " " * 10),
        ("password", "x" * 129),
        ("password", "pass\u0000word"),
        ("is_admin", True),
    ],
)
def test_invalid_registration_is_422(client: FlaskClient, field: str, value: Any) -> None:
    body = {"email": "v@example.com", "password": PASSWORD, "name": "Val", field: value}
    response = client.post(USERS, json=body)
    assert response.status_code == 422
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert problem["title"] == "Unprocessable Content"
    assert field in [error["field"] for error in problem["errors"]]


def test_missing_fields_are_named(client: FlaskClient) -> None:
    response = client.post(USERS, json={})
    fields = {error["field"] for error in response.get_json()["errors"]}
    assert fields == {"email", "password", "name"}


def test_body_must_be_an_object(client: FlaskClient) -> None:
    response = client.post(USERS, json=[1])
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "body"


def test_password_is_kept_exactly(api: Api) -> None:
    emoji = "\U0001f600" * 128
    user = api.register(password=emoji)
    api.login(user["email"], emoji)


def test_me(api: Api, client: FlaskClient) -> None:
    user, pair = api.user_with_token()
    response = client.get(ME, headers=bearer(pair))
    assert response.status_code == 200
    # The login behind the token set last_login_at since registration.
    assert response.get_json() == {**user, "last_login_at": response.get_json()["last_login_at"]}
    assert response.get_json()["last_login_at"] is not None


def test_update_me(api: Api, client: FlaskClient) -> None:
    _, pair = api.user_with_token(age=30)
    response = client.patch(ME, json={"name": " New Name ", "age": None}, headers=bearer(pair))
    assert response.status_code == 200
    assert response.get_json()["name"] == "New Name"
    assert response.get_json()["age"] is None
    assert client.patch(ME, json={}, headers=bearer(pair)).status_code == 200


@pytest.mark.parametrize("body", [{"name": None}, {"email": None}, {"is_admin": True}])
def test_update_me_refuses(api: Api, client: FlaskClient, body: dict[str, Any]) -> None:
    _, pair = api.user_with_token()
    assert client.patch(ME, json=body, headers=bearer(pair)).status_code == 422


def test_update_me_to_a_taken_email_is_409(api: Api, client: FlaskClient) -> None:
    other = api.register()
    _, pair = api.user_with_token()
    response = client.patch(ME, json={"email": other["email"].upper()}, headers=bearer(pair))
    assert response.status_code == 409


def test_delete_me(api: Api, client: FlaskClient) -> None:
    user, pair = api.user_with_token()
    assert client.delete(ME, headers=bearer(pair)).status_code == 204
    assert client.get(ME, headers=bearer(pair)).status_code == 401
    response = client.post(
        "/api/v1/auth/token", data={"username": user["email"], "password": PASSWORD}
    )
    assert response.status_code == 401
    again = api.register(user["email"])
    assert again["id"] > user["id"]  # ids are never reused


def test_change_password(api: Api, client: FlaskClient) -> None:
    user, pair = api.user_with_token()
    other_session = api.login(user["email"])
    wrong = client.put(
        f"{ME}/password",
        json={"current_password": "wrong password", "new_password": "new password 1"},
        headers=bearer(pair),
    )
    assert wrong.status_code == 422
    assert wrong.get_json()["errors"][0]["field"] == "current_password"
    response = client.put(
        f"{ME}/password",
        json={"current_password": PASSWORD, "new_password": "new password 1"},
        headers=bearer(pair),
    )
    assert response.status_code == 204
    for old in (pair, other_session):
        assert client.get(ME, headers=bearer(old)).status_code == 401
        refreshed = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]}
        )
        assert refreshed.status_code == 401
    fresh = api.login(user["email"], "new password 1")
    assert client.get(ME, headers=bearer(fresh)).status_code == 200
