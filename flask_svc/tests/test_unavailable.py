"""A database that cannot be reached gives 503 problems, and the service keeps running."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from flask import Flask

from app import create_app


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def down_app() -> Flask:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere"
    return create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": url})


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/ready", {}),
        (
            "post",
            "/api/v1/users",
            {"json": {"email": "a@b.co", "password": "pw123456", "name": "Ab"}},
        ),
        ("post", "/api/v1/auth/token", {"data": {"username": "a@b.co", "password": "x"}}),
    ],
)
def test_database_down_is_503(down_app: Flask, method: str, path: str, kwargs: Any) -> None:
    response = getattr(down_app.test_client(), method)(path, **kwargs)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "Service temporarily unavailable."


def test_health_does_not_need_the_database(down_app: Flask) -> None:
    assert down_app.test_client().get("/health").status_code == 200
