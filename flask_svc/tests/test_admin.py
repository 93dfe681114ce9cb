from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from .conftest import Api, bearer

USERS = "/api/v1/users"


def test_non_admins_get_403_before_any_lookup(api: Api, client: FlaskClient) -> None:
    user, pair = api.user_with_token()
    for method, path in [
        ("get", USERS),
        ("get", f"{USERS}/{user['id']}"),
        ("get", f"{USERS}/999999"),
        ("patch", f"{USERS}/999999"),
        ("delete", f"{USERS}/999999"),
        ("post", f"{USERS}/999999/activate"),
        ("post", f"{USERS}/999999/deactivate"),
    ]:
        response = getattr(client, method)(path, headers=bearer(pair), json={})
        assert response.status_code == 403, (method, path)
        assert response.get_json()["detail"] == "Admin privileges required."


def test_list_pages_and_filters(app: Flask, api: Api, client: FlaskClient) -> None:
    admin = api.admin_token(app)
    for index in range(3):
        api.register(f"page-{index}@example.com", name=f"Page Ünïcode {index}")
    response = client.get(f"{USERS}?limit=2&search=PAGE&is_active=true", headers=bearer(admin))
    assert response.status_code == 200
    page = response.get_json()
    assert page["count"] == 3
    assert [user["email"] for user in page["results"]] == [
        "page-0@example.com",
        "page-1@example.com",
    ]
    assert page["previous"] is None
    assert page["next"] == (
        "http://localhost/api/v1/users?search=PAGE&is_active=true&limit=2&offset=2"
    )
    second = client.get(page["next"], headers=bearer(admin)).get_json()
    assert [user["email"] for user in second["results"]] == ["page-2@example.com"]
    assert second["next"] is None
    assert second["previous"].endswith("limit=2&offset=0")
    unicode = client.get(f"{USERS}?search=ÜNÏCODE", headers=bearer(admin)).get_json()
    assert unicode["count"] == 3
    assert client.get(f"{USERS}?search=%25", headers=bearer(admin)).get_json()["count"] == 0


def test_list_rejects_bad_parameters(app: Flask, api: Api, client: FlaskClient) -> None:
    admin = api.admin_token(app)
    for query, field in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=1.0", "limit"),
        ("offset=-1", "offset"),
        ("offset=9223372036854775808", "offset"),
        ("is_active=yes", "is_active"),
        ("search=%00", "search"),
        ("search=" + "x" * 255, "search"),
    ]:
        response = client.get(f"{USERS}?{query}", headers=bearer(admin))
        assert response.status_code == 422, query
        assert response.get_json()["errors"][0]["field"] == field


def test_manage_a_user(app: Flask, api: Api, client: FlaskClient) -> None:
    admin = api.admin_token(app)
    user, pair = api.user_with_token()
    path = f"{USERS}/{user['id']}"
    seen = client.get(path, headers=bearer(admin)).get_json()
    assert seen == {**user, "last_login_at": seen["last_login_at"]}
    promoted = client.patch(path, json={"is_admin": True}, headers=bearer(admin))
    assert promoted.get_json()["is_admin"] is True
    assert client.get(USERS, headers=bearer(pair)).status_code == 200
    client.patch(path, json={"is_admin": False}, headers=bearer(admin))
    # Demotion acts on the existing token at once.
    assert client.get(USERS, headers=bearer(pair)).status_code == 403
    for _ in range(2):
        deactivated = client.post(f"{path}/deactivate", headers=bearer(admin))
        assert deactivated.get_json()["is_active"] is False
    assert client.get(f"{USERS}/me", headers=bearer(pair)).status_code == 401
    assert client.post(f"{path}/activate", headers=bearer(admin)).get_json()["is_active"]
    assert client.delete(path, headers=bearer(admin)).status_code == 204
    assert client.get(path, headers=bearer(admin)).status_code == 404
    assert client.delete(path, headers=bearer(admin)).status_code == 404
    assert client.get(f"{USERS}/me", headers=bearer(pair)).status_code == 401


def test_patch_validation(app: Flask, api: Api, client: FlaskClient) -> None:
    admin = api.admin_token(app)
    user = api.register()
    path = f"{USERS}/{user['id']}"
    for body in ({"is_admin": 1}, {"is_admin": None}, {"is_active": False}, {"name": None}):
        assert client.patch(path, json=body, headers=bearer(admin)).status_code == 422, body


def test_path_ids(app: Flask, api: Api, client: FlaskClient) -> None:
    admin = api.admin_token(app)
    for raw in ("0", "-1", "abc", "1.0", "9223372036854775808", "\u0661"):
        response = client.get(f"{USERS}/{raw}", headers=bearer(admin))
        assert response.status_code == 404, raw
        assert response.mimetype == "application/problem+json"
    assert client.get(f"{USERS}/9223372036854775807", headers=bearer(admin)).status_code == 404
