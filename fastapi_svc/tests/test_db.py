"""The engine of a worker: DB_POOL_SIZE and DB_POOL_TIMEOUT, a 503 when its pool is
exhausted, SQLite reads beside another worker's writer, and on PostgreSQL a connection
the server dropped replaced before use (pool_pre_ping)."""

import asyncio
import os
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sqlalchemy import make_url, select
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import QueuePool

from app import services, tokens
from app.config import SERVICE_DIR, Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.models import RefreshToken
from app.schemas import UserCreate

from .conftest import make_settings
from .helpers import PASSWORD, assert_problem, bearer, login, register, unique_email


def test_pool_settings_default_to_five_connections_and_two_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DB_POOL_SIZE", raising=False)
    monkeypatch.delenv("DB_POOL_TIMEOUT", raising=False)
    settings = Settings()
    assert (settings.db_pool_size, settings.db_pool_timeout) == (5, 2)


def test_pool_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "3")
    monkeypatch.setenv("DB_POOL_TIMEOUT", "7")
    settings = Settings()
    assert (settings.db_pool_size, settings.db_pool_timeout) == (3, 7)


@pytest.mark.parametrize(("name", "value"), [("DB_POOL_SIZE", "0"), ("DB_POOL_TIMEOUT", "soon")])
def test_invalid_pool_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


async def test_pool_settings_reach_the_engine(database_url: str) -> None:
    app = create_app(make_settings(database_url, db_pool_size=3, db_pool_timeout=7))
    try:
        pool = app.state.engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool.timeout()) == (3, 7)
    finally:
        await app.state.engine.dispose()


async def test_postgres_engine_gets_the_pool_settings() -> None:
    engine = create_engine("postgresql://u@127.0.0.1:5432/db", pool_size=4, pool_timeout=3)
    try:
        assert isinstance(engine.pool, QueuePool)
        assert (engine.pool.size(), engine.pool.timeout()) == (4, 3)
    finally:
        await engine.dispose()


async def test_an_exhausted_pool_is_503_with_retry_after(database_url: str) -> None:
    app = create_app(make_settings(database_url, db_pool_size=1, db_pool_timeout=1))
    transport = ASGITransport(app=app)
    try:
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            user = await register(client)
            tokens = await login(client, user["email"])
            async with app.state.sessionmaker() as holder:
                await holder.connection()  # the worker's only connection, busy elsewhere
                response = await client.get("/api/v1/users/me", headers=bearer(tokens))
            body = assert_problem(response, 503)
            assert body["detail"] == "Service temporarily unavailable."
            assert response.headers["retry-after"] == "5"
            # No overflow connection was opened, and the one returned serves again.
            assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 200
    finally:
        await app.state.engine.dispose()


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


async def test_reads_do_not_wait_for_a_writer(
    client: AsyncClient, other_worker: sqlite3.Connection
) -> None:
    user = await register(client)
    tokens = await login(client, user["email"])
    other_worker.execute("BEGIN IMMEDIATE")  # another worker is writing
    response = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert response.status_code == 200, response.text


async def test_a_write_after_a_read_survives_another_workers_commit(
    session: AsyncSession, settings: Settings, other_worker: sqlite3.Connection
) -> None:
    data = UserCreate(email=unique_email(), password=PASSWORD, name="Ada")
    created = await services.create_user(session, settings, data=data)
    user = await services.get_user(session, user_id=created.id)  # a request's authentication
    assert user is not None
    other_worker.execute("UPDATE users SET age = 40 WHERE id = ?", (created.id,))
    updated = await services.update_user(session, user=user, changes={"name": "Grace"})
    assert updated.name == "Grace"


async def test_a_read_takes_no_lock(
    session: AsyncSession, other_worker: sqlite3.Connection
) -> None:
    await session.execute(select(RefreshToken.id))
    other_worker.execute("BEGIN IMMEDIATE")  # would fail at once if the read held a lock
    other_worker.execute("ROLLBACK")


# -- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL server (TEST_POSTGRES_URL, default the local one); skipped without."""
    url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 5432), timeout=2).close()
    except OSError:
        pytest.skip(f"no PostgreSQL answers at {url}")
    return url


def _database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _on_server(server_url: str, statement: str) -> Any:
    """One statement outside any transaction (CREATE/DROP DATABASE), from sync code:
    the first value of its result, if any."""

    async def run() -> Any:
        connection = await asyncpg.connect(server_url)
        try:
            return await connection.fetchval(statement)
        finally:
            await connection.close()

    return asyncio.run(run())


@contextmanager
def _new_database(server_url: str, prefix: str, template: str = "template1") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _on_server(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield name
    finally:
        _on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(database_url: str) -> None:
    config = Config(str(SERVICE_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> Iterator[str]:
    """A database migrated by Alembic once; each test gets a copy."""
    with _new_database(postgres_url, "fastapi_svc_template") as name:
        _migrate(_database_url(postgres_url, name))
        yield name


@pytest.fixture
def postgres_database_url(postgres_url: str, postgres_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    with _new_database(postgres_url, "fastapi_svc_test", postgres_template) as name:
        yield _database_url(postgres_url, name)


def test_on_postgres_migrations_run_in_one_transaction(postgres_url: str) -> None:
    # Not in autocommit: a migration that fails half-way leaves nothing behind.
    with _new_database(postgres_url, "fastapi_svc_test") as name:
        database_url = _database_url(postgres_url, name)
        _on_server(database_url, "CREATE TABLE refresh_tokens (id int)")  # the last one made
        with pytest.raises(ProgrammingError, match="already exists"):
            _migrate(database_url)
        assert _on_server(database_url, "SELECT to_regclass('users')") is None


@asynccontextmanager
async def _postgres_app(database_url: str) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    """The app on one pooled connection."""
    application = create_app(make_settings(database_url, db_pool_size=1))
    try:
        transport = ASGITransport(app=application)
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client
    finally:
        await application.state.engine.dispose()


async def _backend_pids(server_url: str, database_url: str) -> list[int]:
    connection = await asyncpg.connect(server_url)
    try:
        name = make_url(database_url).database
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def test_on_postgres_a_connection_the_server_dropped_is_replaced(
    postgres_url: str, postgres_database_url: str
) -> None:
    async with _postgres_app(postgres_database_url) as (_application, client):
        user = await register(client)
        tokens = await login(client, user["email"])
        killed = await _backend_pids(postgres_url, postgres_database_url)
        assert killed
        connection = await asyncpg.connect(postgres_url)
        try:
            for pid in killed:
                await connection.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await connection.close()

        response = await client.get("/api/v1/users/me", headers=bearer(tokens))
        assert response.status_code == 200, response.text
        assert not set(killed) & set(await _backend_pids(postgres_url, postgres_database_url))


async def test_on_postgres_a_failure_inside_a_write_leaves_none_of_it(
    monkeypatch: pytest.MonkeyPatch, postgres_database_url: str
) -> None:
    settings = make_settings(postgres_database_url)
    engine = create_engine(postgres_database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            data = UserCreate(email=unique_email(), password=PASSWORD, name="Ada")
            user = await services.create_user(session, settings, data=data)
            pair = await tokens.issue_token_pair(session, settings, user=user)

        def fail(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("between the rotation's UPDATE and its INSERT")

        # The rotation marks the token used, then fails before inserting its successor.
        monkeypatch.setattr(tokens, "encode_token", fail)
        async with sessionmaker() as session:
            with pytest.raises(RuntimeError):
                await tokens.rotate_refresh_token(session, settings, token=pair.refresh_token)
        async with sessionmaker() as session:
            rows = (await session.scalars(select(RefreshToken))).all()
        assert [row.revoked_at for row in rows] == [None]
    finally:
        await engine.dispose()
