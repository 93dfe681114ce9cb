"""Round trips on PostgreSQL: reads in autocommit, writes in one transaction each,
and a ping only for a pooled connection that has sat idle.

What the app sends is read from libpq's own trace of each connection, so a BEGIN
or ROLLBACK that psycopg sends by itself is seen too. Each test runs on a fresh
database (TEST_POSTGRES_URL, default the local server) with a pool of one
connection, so "the pooled connection" is always the same one.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from psycopg import pq, sql
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


@pytest.fixture
def idle_ping_seconds() -> float:
    return 60.0  # no ping in these short tests, unless one parametrizes this


@pytest.fixture(autouse=True)
def _one_connection(app_config: dict[str, Any], idle_ping_seconds: float) -> None:
    app_config.update(DB_POOL_SIZE=1, DB_IDLE_PING_SECONDS=idle_ping_seconds)


def _engine(app: Flask) -> Engine:
    with app.app_context():
        return db.engine


class Wire:
    """What the app's connections sent, from libpq's trace (one line per message)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = 0

    def _lines(self) -> list[str]:
        # A message's first line starts with its direction; SQL text may go on over more.
        lines = self.path.read_text().splitlines()
        return [line for line in lines if line.startswith(("F\t", "B\t"))][self.start :]

    def clear(self) -> None:
        self.start += len(self._lines())

    def sent(self) -> list[str]:
        """One item per statement: the text of a simple query (BEGIN, COMMIT,
        ROLLBACK, the ping ";"), or EXECUTE for an extended-protocol statement."""
        items = []
        for line in self._lines():
            direction, _length, kind, *rest = line.split("\t", 3)
            if direction == "F" and kind == "Query":
                items.append(re.sub(r'^ "(.*)"$', r"\1", rest[0]))
            elif direction == "F" and kind == "Execute":
                items.append("EXECUTE")
        return items

    def round_trips(self) -> int:
        return sum(1 for line in self._lines() if line.startswith("B\t5\tReadyForQuery"))


@pytest.fixture
def wire(app: Flask, tmp_path: Path) -> Iterator[Wire]:
    """libpq traces each connection while it is checked out of the pool."""
    path = tmp_path / "libpq.trace"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def trace(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.pgconn.trace(fd)
        dbapi_connection.pgconn.set_trace_flags(
            pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
        )

    def untrace(dbapi_connection: Any, *_args: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.pgconn.untrace()  # flushes the trace

    engine = _engine(app)
    event.listen(engine, "checkout", trace, insert=True)  # before the app's idle ping
    event.listen(engine, "checkin", untrace)
    try:
        yield Wire(path)
    finally:
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)
        os.close(fd)


def _in_autocommit(app: Flask) -> bool:
    with _engine(app).connect() as connection:  # the pool's only connection
        driver_connection = connection.connection.driver_connection
        assert driver_connection is not None
        return bool(driver_connection.autocommit)


# --- reads in autocommit, writes in a transaction -------------------------------


def test_a_read_only_request_sends_just_its_selects(api: Api, wire: Wire) -> None:
    _, pair = api.user_with_token()
    wire.clear()
    assert api.client.get(ME, headers=bearer(pair)).status_code == 200
    # The deny-list and the user, nothing else: no ping, BEGIN or ROLLBACK.
    assert wire.sent() == ["EXECUTE", "EXECUTE"]
    assert wire.round_trips() == 2


def test_a_write_is_one_transaction_and_the_connection_returns_to_autocommit(
    app: Flask, api: Api, wire: Wire
) -> None:
    _, pair = api.user_with_token()
    wire.clear()
    response = api.client.patch(ME, headers=bearer(pair), json={"name": "Grace"})
    assert response.status_code == 200
    # The reads of the authentication in autocommit, then the change in its transaction.
    assert wire.sent() == [
        "EXECUTE",
        "EXECUTE",
        "BEGIN ISOLATION LEVEL READ COMMITTED",
        "EXECUTE",
        "COMMIT",
    ]
    assert _in_autocommit(app)
    wire.clear()
    assert api.client.get(ME, headers=bearer(pair)).status_code == 200
    assert wire.sent() == ["EXECUTE", "EXECUTE"]


def test_a_failure_between_two_statements_of_a_write_leaves_neither(
    app: Flask, api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, pair = api.user_with_token()
    issue_token_pair = tokens.issue_token_pair

    def fail_after_the_insert(user: User, *, family_id: str | None = None) -> Any:
        issue_token_pair(user, family_id=family_id)
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
    assert _in_autocommit(app)


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


# --- a ping only after idling ---------------------------------------------------


@pytest.fixture
def pings(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The connections the app pinged."""
    dialect = _engine(app).dialect
    do_ping = dialect.do_ping
    pinged: list[object] = []

    def counting_ping(dbapi_connection: Any) -> bool:
        pinged.append(dbapi_connection)
        return do_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    return pinged


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


@pytest.mark.parametrize("idle_ping_seconds", [1.0])
def test_a_connection_in_steady_use_is_not_pinged(client: FlaskClient, pings: list[object]) -> None:
    for _ in range(3):
        assert client.get("/ready").status_code == 200
    assert pings == []


@pytest.mark.parametrize("idle_ping_seconds", [0.0])
def test_a_connection_back_from_idling_is_pinged_but_a_new_one_is_not(
    app: Flask, client: FlaskClient, pings: list[object]
) -> None:
    _engine(app).dispose()  # the connection that made the tables is gone
    assert client.get("/ready").status_code == 200
    assert pings == []  # brand new
    assert client.get("/ready").status_code == 200
    assert client.get("/ready").status_code == 200
    assert len(pings) == 2


# Idle past the threshold, or used a moment ago but with the server's goodbye already
# in its socket: either way pinged once, found dead and replaced (the new one unpinged).
@pytest.mark.parametrize("idle_ping_seconds", [0.0, 1.0], ids=["idle", "in-steady-use"])
def test_a_connection_the_server_closed_is_replaced_unseen(
    api: Api, postgres_url: str, database_url: str, pings: list[object]
) -> None:
    _, pair = api.user_with_token()
    assert _terminate_app_connections(postgres_url, database_url) == 1
    pings.clear()
    assert api.client.get(ME, headers=bearer(pair)).status_code == 200
    assert len(pings) == 1


@contextlib.contextmanager
def _database_refusing_connections(admin_url: str, database_url: str) -> Iterator[None]:
    name = sql.Identifier(_database_name(database_url))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            yield
        finally:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


@pytest.mark.parametrize("idle_ping_seconds", [0.0])
def test_an_outage_found_by_the_ping_is_503_and_the_service_recovers(
    api: Api, postgres_url: str, database_url: str, pings: list[object]
) -> None:
    _, pair = api.user_with_token()
    with _database_refusing_connections(postgres_url, database_url):
        assert _terminate_app_connections(postgres_url, database_url) == 1
        pings.clear()
        response = api.client.get(ME, headers=bearer(pair))
        assert response.status_code == 503  # the ping failed, then the reconnection
        assert response.headers["Retry-After"] == "5"
        assert len(pings) == 1
    assert api.client.get(ME, headers=bearer(pair)).status_code == 200
