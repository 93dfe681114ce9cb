"""The engine of a worker: DB_POOL_SIZE and DB_POOL_TIMEOUT, a 503 when its pool is
exhausted, and SQLite transactions that take the write lock only to write."""

import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import QueuePool

from app import services
from app.config import Settings
from app.db import begin_write, create_engine
from app.main import create_app
from app.models import User
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


async def test_a_read_takes_no_lock_and_a_write_takes_it_up_front(
    session: AsyncSession, other_worker: sqlite3.Connection
) -> None:
    await session.execute(select(User.id))
    other_worker.execute("BEGIN IMMEDIATE")
    other_worker.execute("ROLLBACK")

    await begin_write(session)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other_worker.execute("BEGIN IMMEDIATE")
    await session.rollback()


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


async def test_on_postgres_a_write_goes_on_in_the_read_transaction(postgres_url: str) -> None:
    # No commit and fresh checkout (with its pre-ping) between a request's reads and writes.
    engine = create_engine(postgres_url)
    try:
        async with AsyncSession(engine) as session:
            await session.execute(text("SELECT 1"))
            transaction = session.get_transaction()
            await begin_write(session)
            assert session.get_transaction() is transaction
    finally:
        await engine.dispose()
