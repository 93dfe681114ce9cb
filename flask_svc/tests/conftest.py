"""Fixtures as in the Flask tutorial: `app`, `client`, `runner`, on a fresh database per test.

SQLite by default; set TEST_DATABASE_URL=postgresql://... to run the same
tests on a throwaway PostgreSQL database per test.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from psycopg import sql

from app import create_app
from app.config import Settings, database_uri, from_environ
from app.extensions import db

PASSWORD = "correct horse battery"


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server of `admin_url`, dropped afterwards."""
    name = f"flask_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def database_url(tmp_path: Any) -> Iterator[str]:
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    with fresh_postgres_database(admin_url) as url:
        yield url


@pytest.fixture
def postgres_url() -> str:
    """A real PostgreSQL server (TEST_POSTGRES_URL, default the local one); skipped without."""
    url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 5432), timeout=2).close()
    except OSError:
        pytest.skip(f"no PostgreSQL answers at {url}")
    return url


ConfigFrom = Callable[[dict[str, str]], dict[str, Any]]


@pytest.fixture
def config_from(monkeypatch: pytest.MonkeyPatch) -> ConfigFrom:
    """The Flask configuration of an environment holding exactly these variables."""

    def load(environ: dict[str, str]) -> dict[str, Any]:
        for name in Settings.model_fields:
            monkeypatch.delenv(name.upper(), raising=False)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        return from_environ()

    return load


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    """Overrides for create_app; tests may change it before `app` is built."""
    return {
        "APP_ENV": "test",
        "SQLALCHEMY_DATABASE_URI": database_uri(database_url),
        "JWT_SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256-and-even-for-hs512!!",
        "LOGIN_MAX_FAILURES": 3,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


class Api:
    """Small helpers over the test client."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, email: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "email": email or f"user-{uuid.uuid4().hex[:10]}@example.com",
            "password": PASSWORD,
            "name": "Test User",
            **fields,
        }
        response = self.client.post("/api/v1/users", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)
        user: dict[str, Any] = response.get_json()
        return user

    def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/auth/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        pair: dict[str, Any] = response.get_json()
        return pair

    def user_with_token(self, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        user = self.register(**fields)
        return user, self.login(user["email"])

    def admin_token(self, app: Flask) -> dict[str, Any]:
        from app.services import ensure_first_admin

        email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        with app.app_context():
            ensure_first_admin(email=email, password=PASSWORD)
        return self.login(email)


def bearer(pair: dict[str, Any] | str) -> dict[str, str]:
    token = pair if isinstance(pair, str) else pair["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)
