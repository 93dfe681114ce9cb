"""PostgreSQL: a write is one transaction, migrations too, and a pooled connection
that the server dropped is replaced before use (pool_pre_ping).

Each test runs on a fresh database (TEST_POSTGRES_URL, default the local server)
with a pool of one connection, so "the pooled connection" is always the same one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from psycopg import sql
from sqlalchemy import Connection, Engine, event

from app import create_app, tokens
from app.extensions import db
from app.models import User

from .conftest import Api, bearer, fresh_postgres_database
from .test_auth import REFRESH

ME = "/api/v1/users/me"


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    # PostgreSQL whatever TEST_DATABASE_URL says: these tests are about its round trips.
    with fresh_postgres_database(postgres_url) as url:
        yield url


@pytest.fixture(autouse=True)
def _one_connection(app_config: dict[str, Any]) -> None:
    app_config.update(DB_POOL_SIZE=1)


def _engine(app: Flask) -> Engine:
    with app.app_context():
        return db.engine


def test_a_failure_between_two_statements_of_a_write_leaves_neither(
    app: Flask, api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, pair = api.user_with_token()
    issue_token_pair = tokens.issue_token_pair

    def fail_after_the_insert(*, user: User, family_id: str | None = None) -> Any:
        issue_token_pair(user=user, family_id=family_id)
        db.session.flush()  # the new token's INSERT, after the old one's UPDATE
        raise RuntimeError("the request fails half way")

    monkeypatch.setattr(tokens, "issue_token_pair", fail_after_the_insert)
    response = api.client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 500
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT revoked_at FROM refresh_tokens WHERE user_id = %s", (user["id"],)
        ).fetchall()
    assert rows == [(None,)]  # neither the revocation nor the new token
    monkeypatch.undo()
    retry = api.client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert retry.status_code == 200


def test_migrations_run_in_a_transaction(app_config: dict[str, Any]) -> None:
    app = create_app(app_config)
    in_autocommit: list[bool] = []

    def record(conn: Connection, *_args: Any) -> None:
        driver_connection = conn.connection.driver_connection
        assert driver_connection is not None
        in_autocommit.append(driver_connection.autocommit)

    engine = _engine(app)
    event.listen(engine, "before_cursor_execute", record)
    try:
        with app.app_context():
            upgrade()
    finally:
        event.remove(engine, "before_cursor_execute", record)
        engine.dispose()
    assert in_autocommit
    assert not any(in_autocommit)  # a failed migration leaves nothing half done


def _database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def _terminate_app_connections(admin_url: str, database_url: str) -> int:
    """End the server side of the app's connections, as a restart or an idle timeout would."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        ended = conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = %s",
            (_database_name(database_url),),
        ).fetchall()
    assert all(done for (done,) in ended)
    return len(ended)


def test_a_connection_the_server_closed_is_replaced_unseen(
    api: Api, postgres_url: str, database_url: str
) -> None:
    _, pair = api.user_with_token()
    assert _terminate_app_connections(postgres_url, database_url) == 1
    assert api.client.get(ME, headers=bearer(pair)).status_code == 200


@contextlib.contextmanager
def _database_refusing_connections(admin_url: str, database_url: str) -> Iterator[None]:
    name = sql.Identifier(_database_name(database_url))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            yield
        finally:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def test_an_outage_found_by_the_ping_is_503_and_the_service_recovers(
    api: Api, postgres_url: str, database_url: str
) -> None:
    _, pair = api.user_with_token()
    with _database_refusing_connections(postgres_url, database_url):
        assert _terminate_app_connections(postgres_url, database_url) == 1
        response = api.client.get(ME, headers=bearer(pair))
        assert response.status_code == 503  # the ping failed, then the reconnection
        assert response.headers["Retry-After"] == "5"
    assert api.client.get(ME, headers=bearer(pair)).status_code == 200
