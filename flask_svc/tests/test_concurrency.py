"""Races decided by the database: a unique index or a conditional update, never a pre-check."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from .conftest import PASSWORD, Api


def test_concurrent_registrations_of_one_email(app: Flask) -> None:
    body = {"email": "race@example.com", "password": PASSWORD, "name": "Racer"}

    def register(_: int) -> int:
        return app.test_client().post("/api/v1/users", json=body).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(register, range(4)))
    assert statuses == [201, 409, 409, 409]


def test_concurrent_refreshes_with_one_token(app: Flask, api: Api) -> None:
    _, pair = api.user_with_token()

    def refresh(_: int) -> int:
        response = app.test_client().post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(refresh, range(4)))
    assert statuses == [200, 401, 401, 401]


def test_concurrent_failures_all_count(app: Flask, api: Api) -> None:
    user = api.register()

    def fail(_: int) -> int:
        response = app.test_client().post(
            "/api/v1/auth/token", data={"username": user["email"], "password": "wrong password"}
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert set(pool.map(fail, range(3))) <= {401, 429}
    response = app.test_client().post(
        "/api/v1/auth/token", data={"username": user["email"], "password": PASSWORD}
    )
    assert response.status_code == 429
