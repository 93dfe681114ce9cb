"""The engine of a worker: DB_POOL_SIZE and DB_POOL_TIMEOUT, a 503 when its pool is
exhausted, SQLite transactions that take the write lock only to write, and PostgreSQL
reads in autocommit with a ping only for a connection that sat idle."""

import asyncio
import functools
import os
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
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
from sqlalchemy import event, make_url, select, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from starlette.requests import Request

import app.main
from app import services
from app.config import SERVICE_DIR, Settings
from app.db import WRITES, begin_write, create_engine, create_sessionmaker
from app.deps import get_session
from app.main import create_app
from app.models import RefreshToken, User, utcnow
from app.schemas import UserCreate

from .conftest import UnguardedWrite, make_settings
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


async def test_requests_waiting_for_a_connection_are_served_in_order(database_url: str) -> None:
    """A request arriving just as a connection comes back does not take it ahead of one
    already waiting: the pool alone would let it (its asyncio queue serves whoever asks
    first), and under load some requests waited out DB_POOL_TIMEOUT and answered 503."""
    app = create_app(make_settings(database_url, db_pool_size=1, db_pool_timeout=5))
    request = Request({"type": "http", "app": app})
    order: list[str] = []
    holding, release = asyncio.Event(), asyncio.Event()
    newcomers: list[asyncio.Task[None]] = []

    async def use(name: str) -> None:
        async for session in get_session(request):
            await session.execute(text("SELECT 1"))
            order.append(name)

    async def hold() -> None:
        async for session in get_session(request):
            await session.execute(text("SELECT 1"))
            order.append("holder")
            holding.set()
            await release.wait()

    def newcomer_arrives(*_args: object) -> None:
        # The holder's connection is on its way back to the pool: a new request comes in.
        if release.is_set() and not newcomers:
            newcomers.append(asyncio.get_running_loop().create_task(use("newcomer")))

    event.listen(app.state.engine.sync_engine.pool, "checkin", newcomer_arrives)
    try:
        holder = asyncio.create_task(hold())
        await holding.wait()
        waiter = asyncio.create_task(use("waiter"))
        await asyncio.sleep(0.1)  # the waiter is queued for the only connection
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, waiter), timeout=5)
        await asyncio.wait_for(newcomers[0], timeout=5)
        assert order == ["holder", "waiter", "newcomer"]
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


async def test_a_write_without_begin_write_trips_the_guard(
    session: AsyncSession, unguarded_writes: list[str]
) -> None:
    session.add(User(email=unique_email(), name="Ada", password="x", created_at=utcnow()))
    with pytest.raises(UnguardedWrite):
        await session.commit()
    assert len(unguarded_writes) == 1
    assert unguarded_writes[0].startswith("INSERT INTO users")
    unguarded_writes.clear()  # tripped on purpose


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
async def _postgres_app(
    monkeypatch: pytest.MonkeyPatch, database_url: str, *, idle_ping_seconds: float
) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    """The app on one pooled connection, with the given idle threshold for pings."""
    monkeypatch.setattr(
        app.main,
        "create_engine",
        functools.partial(create_engine, idle_ping_seconds=idle_ping_seconds),
    )
    application = create_app(make_settings(database_url, db_pool_size=1))
    try:
        transport = ASGITransport(app=application)
        async with AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client
    finally:
        await application.state.engine.dispose()


class WireLog:
    """What an engine sends PostgreSQL: SQLAlchemy's statements, and what asyncpg sends on
    its own (BEGIN, COMMIT, ROLLBACK, the ping) through its query logger."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[str] = []
        self._driver: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._on_statement)
        event.listen(engine.sync_engine, "connect", self._on_connect)

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def _on_connect(self, dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        driver = dbapi_connection.driver_connection
        driver.add_query_logger(lambda query: self._driver.append(query.query))

    async def driver(self) -> list[str]:
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon, not at once
        return self._driver

    async def clear(self) -> None:
        await self.driver()
        self.statements.clear()
        self._driver.clear()


async def _backend_pids(server_url: str, database_url: str) -> list[int]:
    connection = await asyncpg.connect(server_url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", make_url(database_url).database
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


async def _kill_backends(server_url: str, database_url: str) -> list[int]:
    """Terminate the service's server processes, as a restart or an idle timeout would."""
    pids = await _backend_pids(server_url, database_url)
    assert pids
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", pids
        )
    finally:
        await connection.close()
    for _ in range(100):  # terminating is asynchronous: wait until they are gone
        if not set(pids) & set(await _backend_pids(server_url, database_url)):
            await asyncio.sleep(0.05)  # and let the client read the end of the stream
            return pids
        await asyncio.sleep(0.05)
    raise AssertionError(f"backends {pids} still alive")


async def _backend_state(server_url: str, pid: int) -> str:
    connection = await asyncpg.connect(server_url)
    try:
        state: str = await connection.fetchval(
            "SELECT state FROM pg_stat_activity WHERE pid = $1", pid
        )
    finally:
        await connection.close()
    return state


def _count_pings(monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine) -> list[int]:
    dialect = engine.sync_engine.dialect
    pings: list[int] = []
    original: Callable[[DBAPIConnection], bool] = dialect.do_ping

    def do_ping(dbapi_connection: DBAPIConnection) -> bool:
        pings.append(1)
        return original(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", do_ping)
    return pings


async def test_on_postgres_reads_leave_no_transaction_and_begin_write_opens_one(
    postgres_url: str, postgres_database_url: str
) -> None:
    engine = create_engine(postgres_database_url)
    try:
        async with AsyncSession(engine) as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            assert pid is not None
            transaction = session.get_transaction()
            # The session still holds the connection, yet the server sees no transaction.
            assert await _backend_state(postgres_url, pid) == "idle"

            await begin_write(session)
            assert session.get_transaction() is not transaction  # the reads were ended
            connection = (await session.connection()).sync_connection
            assert connection is not None
            options = connection.get_execution_options()
            assert (options[WRITES], options["isolation_level"]) == (True, "READ COMMITTED")
            assert await session.scalar(text("SELECT pg_backend_pid()")) == pid
            assert await _backend_state(postgres_url, pid) == "idle in transaction"
            writing = session.get_transaction()
            await begin_write(session)  # a no-op inside the change
            assert session.get_transaction() is writing
            await session.rollback()
    finally:
        await engine.dispose()


async def test_on_postgres_a_read_request_sends_only_its_statements(
    monkeypatch: pytest.MonkeyPatch, postgres_database_url: str
) -> None:
    async with _postgres_app(monkeypatch, postgres_database_url, idle_ping_seconds=60) as (
        application,
        client,
    ):
        wire = WireLog(application.state.engine)
        user = await register(client)
        tokens = await login(client, user["email"])
        # A write does open a transaction: the log would see a BEGIN.
        assert any(sent.startswith("BEGIN") for sent in await wire.driver())
        await wire.clear()

        response = await client.get("/api/v1/users/me", headers=bearer(tokens))
        assert response.status_code == 200, response.text
        # The deny-list lookup and the user: no ping, BEGIN or ROLLBACK around them.
        assert len(wire.statements) == 2
        assert all(s.startswith("SELECT") for s in wire.statements)
        assert await wire.driver() == []


async def test_on_postgres_the_pooled_connection_is_back_in_autocommit_after_a_write(
    monkeypatch: pytest.MonkeyPatch, postgres_database_url: str
) -> None:
    async with _postgres_app(monkeypatch, postgres_database_url, idle_ping_seconds=60) as (
        application,
        client,
    ):
        wire = WireLog(application.state.engine)
        user = await register(client)
        tokens = await login(client, user["email"])
        response = await client.patch(
            "/api/v1/users/me", json={"name": "Grace"}, headers=bearer(tokens)
        )
        assert response.status_code == 200, response.text
        await wire.clear()

        # The only pooled connection: the one the write used.
        async with application.state.sessionmaker() as session:
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            assert raw.dbapi_connection is not None
            assert raw.dbapi_connection.autocommit
            await session.scalar(select(User.name).where(User.id == user["id"]))
        assert await wire.driver() == []


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
            pair = await services.issue_token_pair(session, settings, user=user)

        def fail(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("between the rotation's UPDATE and its INSERT")

        # The rotation marks the token used, then fails before inserting its successor.
        monkeypatch.setattr(services, "encode_token", fail)
        async with sessionmaker() as session:
            with pytest.raises(RuntimeError):
                await services.rotate_refresh_token(session, settings, token=pair.refresh_token)
        async with sessionmaker() as session:
            rows = (await session.scalars(select(RefreshToken))).all()
        assert [row.revoked_at for row in rows] == [None]
    finally:
        await engine.dispose()


async def test_on_postgres_a_write_without_begin_write_trips_the_guard(
    postgres_database_url: str, unguarded_writes: list[str]
) -> None:
    engine = create_engine(postgres_database_url)
    try:
        async with AsyncSession(engine) as session:
            session.add(User(email=unique_email(), name="Ada", password="x", created_at=utcnow()))
            with pytest.raises(UnguardedWrite):
                await session.commit()
        assert len(unguarded_writes) == 1
        unguarded_writes.clear()  # tripped on purpose
    finally:
        await engine.dispose()


async def test_on_postgres_a_connection_in_steady_use_is_not_pinged(
    monkeypatch: pytest.MonkeyPatch, postgres_database_url: str
) -> None:
    for idle_ping_seconds, expected in ((60, 0), (0, 1)):
        async with _postgres_app(
            monkeypatch, postgres_database_url, idle_ping_seconds=idle_ping_seconds
        ) as (application, client):
            user = await register(client)
            tokens = await login(client, user["email"])
            pings = _count_pings(monkeypatch, application.state.engine)
            response = await client.get("/api/v1/users/me", headers=bearer(tokens))
            assert response.status_code == 200, response.text
            assert len(pings) == expected, idle_ping_seconds


async def test_on_postgres_a_connection_dropped_while_idle_is_replaced(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, postgres_database_url: str
) -> None:
    async with _postgres_app(monkeypatch, postgres_database_url, idle_ping_seconds=0) as (
        application,
        client,
    ):
        user = await register(client)
        tokens = await login(client, user["email"])
        killed = await _kill_backends(postgres_url, postgres_database_url)
        # As if the client had not seen the socket close (a network drop, not a restart):
        # only the ping finds out.
        monkeypatch.setattr(asyncpg.Connection, "is_closed", lambda _self: False)
        pings = _count_pings(monkeypatch, application.state.engine)

        response = await client.get("/api/v1/users/me", headers=bearer(tokens))
        assert response.status_code == 200, response.text
        assert len(pings) == 1  # the dead one; its replacement is new and goes unpinged
        assert not set(killed) & set(await _backend_pids(postgres_url, postgres_database_url))


async def test_on_postgres_a_connection_closed_by_the_server_is_replaced_unpinged(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, postgres_database_url: str
) -> None:
    async with _postgres_app(monkeypatch, postgres_database_url, idle_ping_seconds=60) as (
        application,
        client,
    ):
        user = await register(client)
        tokens = await login(client, user["email"])
        killed = await _kill_backends(postgres_url, postgres_database_url)
        pings = _count_pings(monkeypatch, application.state.engine)

        response = await client.get("/api/v1/users/me", headers=bearer(tokens))
        assert response.status_code == 200, response.text
        assert pings == []  # asyncpg had seen the socket close: no round trip to find out
        assert not set(killed) & set(await _backend_pids(postgres_url, postgres_database_url))
