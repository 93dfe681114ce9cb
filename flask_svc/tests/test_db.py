"""The engine of a worker: DB_POOL_SIZE and DB_POOL_TIMEOUT, a 503 when its pool is
exhausted, and SQLite reads beside another worker's writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.pool import QueuePool

from app import create_app, services
from app.config import ConfigError
from app.db import engine_options
from app.extensions import db
from app.models import User

from .conftest import Api, ConfigFrom, bearer


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # SQLite whatever TEST_DATABASE_URL says: these tests are about its locks.
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


def test_pool_settings_default_to_five_connections_and_two_seconds(config_from: ConfigFrom) -> None:
    config = config_from({})
    assert (config["DB_POOL_SIZE"], config["DB_POOL_TIMEOUT"]) == (5, 2)


def test_pool_settings_are_read_from_the_environment(config_from: ConfigFrom) -> None:
    config = config_from({"DB_POOL_SIZE": "3", "DB_POOL_TIMEOUT": "7"})
    assert (config["DB_POOL_SIZE"], config["DB_POOL_TIMEOUT"]) == (3, 7)


@pytest.mark.parametrize(("name", "value"), [("DB_POOL_SIZE", "0"), ("DB_POOL_TIMEOUT", "soon")])
def test_invalid_pool_settings_are_refused(name: str, value: str, config_from: ConfigFrom) -> None:
    with pytest.raises(ConfigError, match=name):
        config_from({name: value})


def test_pool_settings_reach_the_engine(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "DB_POOL_SIZE": 3, "DB_POOL_TIMEOUT": 7})
    with app.app_context():
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool.timeout()) == (3, 7)
        db.engine.dispose()


def test_postgres_engine_gets_the_pool_settings() -> None:
    options = engine_options("postgresql+psycopg://h/d", pool_size=4, pool_timeout=3)
    assert (options["pool_size"], options["max_overflow"], options["pool_timeout"]) == (4, 0, 3)


def test_an_exhausted_pool_is_503_with_retry_after(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "DB_POOL_SIZE": 1, "DB_POOL_TIMEOUT": 1})
    with app.app_context():
        db.create_all()
    api = Api(app.test_client())
    _, pair = api.user_with_token()
    with app.app_context():
        holder = db.engine.connect()  # the worker's only connection, busy elsewhere
        try:
            response = api.client.get("/api/v1/users/me", headers=bearer(pair))
        finally:
            holder.close()
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["detail"] == "Service temporarily unavailable."
        assert response.headers["Retry-After"] == "5"
        # No overflow connection was opened, and the one returned serves again.
        assert api.client.get("/api/v1/users/me", headers=bearer(pair)).status_code == 200
        db.engine.dispose()


@pytest.fixture
def other_worker(database_url: str) -> Iterator[sqlite3.Connection]:
    """A connection to the same SQLite file, as another worker process would hold."""
    path = Path(database_url.removeprefix("sqlite:///"))
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        yield connection
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.close()


def test_reads_do_not_wait_for_a_writer(api: Api, other_worker: sqlite3.Connection) -> None:
    _, pair = api.user_with_token()
    other_worker.execute("BEGIN IMMEDIATE")  # another worker is writing
    response = api.client.get("/api/v1/users/me", headers=bearer(pair))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_write_after_a_read_survives_another_workers_commit(
    app: Flask, api: Api, other_worker: sqlite3.Connection
) -> None:
    created = api.register()
    with app.app_context():
        user = db.session.get(User, created["id"])  # a request's authentication
        assert user is not None
        other_worker.execute("UPDATE users SET age = 40 WHERE id = ?", (created["id"],))
        updated = services.update_user(user=user, changes={"name": "Grace"})
        assert updated.name == "Grace"


def test_a_read_takes_no_lock(app: Flask, other_worker: sqlite3.Connection) -> None:
    with app.app_context():
        db.session.execute(select(User.id))
        other_worker.execute("BEGIN IMMEDIATE")  # would fail at once if the read held a lock
        other_worker.execute("ROLLBACK")
