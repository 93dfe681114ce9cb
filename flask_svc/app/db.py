"""The database engine: its options from DATABASE_URL and SQLite's per-connection set-up."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask
from sqlalchemy import event, make_url

from .config import DEFAULT_DB_POOL_SIZE, DEFAULT_DB_POOL_TIMEOUT_SECONDS
from .extensions import db, migrate

# When the database is gone, requests answer 503 within seconds, never hang.
CONNECT_TIMEOUT_SECONDS = 2
SQLITE_BUSY_TIMEOUT_SECONDS = 5


def engine_options(
    uri: str,
    *,
    pool_size: int = DEFAULT_DB_POOL_SIZE,
    pool_timeout: int = DEFAULT_DB_POOL_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """The engine of one worker process, whose threads share its pool: at most
    `pool_size` connections (no overflow); a request waits up to `pool_timeout`
    seconds for a free one, then gets a 503. A pooled connection that the database
    dropped (a restart, an idle timeout) is replaced before use (`pool_pre_ping`)."""
    if uri.startswith("sqlite"):
        if make_url(uri).database in (None, "", ":memory:"):
            return {}  # one shared in-memory connection (Flask-SQLAlchemy's StaticPool)
        connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    else:
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": pool_timeout,
        "pool_pre_ping": True,
        "connect_args": connect_args,
    }


def _python_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """WAL, so that the worker processes sharing the file read beside a writer; the
    driver's busy timeout queues writers, and it begins a transaction at the first
    write, so a read takes no lock."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # SQLite's lower() folds ASCII only; use Python's str.lower() like the other services.
    dbapi_connection.create_function("lower", 1, _python_lower, deterministic=True)


def init_app(app: Flask) -> None:
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(
            app.config["SQLALCHEMY_DATABASE_URI"],
            pool_size=app.config["DB_POOL_SIZE"],
            pool_timeout=app.config["DB_POOL_TIMEOUT"],
        ),
    )
    db.init_app(app)
    migrate.init_app(app, db)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _configure_sqlite)
