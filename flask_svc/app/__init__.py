"""The User API, Flask implementation: `create_app` is the application factory."""

from __future__ import annotations

import logging
import os
import select
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask
from sqlalchemy import Connection, Engine, event, exc
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from . import cli, config, errors, middleware, security, telemetry
from .extensions import WRITES, db, migrate

log = logging.getLogger(__name__)


def _python_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and foreign keys on every SQLite connection.

    Reads begin DEFERRED: they take no lock, and WAL lets them run beside a
    writer. A transaction that writes begins IMMEDIATE (`begin_write`), taking
    the write lock up front so that several worker processes queue for it (up to
    the busy timeout); a read transaction that later writes would instead fail at
    once (SQLITE_BUSY) whenever another worker committed in between.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below decide
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's lower() folds ASCII only; use Python's str.lower() like the other services.
        dbapi_connection.create_function("lower", 1, _python_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN DEFERRED")


CHECKED_IN_AT = "checked_in_at"  # the pool entry's info key: when it went back to the pool


def _closed_by_server(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket has something to read: on a restart, an
    outage or a terminated backend the server's goodbye (an error, then the end of
    the stream) is waiting there. A local check, no round trip; a healthy idle
    connection has nothing to say."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError):  # closed already, or beyond select()'s descriptor limit
        return True
    return bool(readable)


def _configure_postgres(
    engine: Engine, *, idle_ping_seconds: float = config.IDLE_PING_SECONDS
) -> None:
    """Ping a pooled connection before use only when it has sat idle in the pool.

    A connection in steady use was working a moment ago, so pinging it at every
    checkout (pool_pre_ping) costs a round trip per request for nothing; one that
    sat idle longer than `idle_ping_seconds` may have been dropped by a restart or
    an idle timeout, and one whose socket already holds the server's goodbye is
    pinged too. A connection that dies unseen while in steady use fails its
    statement instead: SQLAlchemy takes that for a disconnect and invalidates every
    pooled connection older than the failure, so only that request answers 503.
    """

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if dbapi_connection is not None:  # None: invalidated, replaced at its next checkout
            record.info[CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        checked_in_at = record.info.pop(CHECKED_IN_AT, None)  # none yet: a brand-new connection
        if checked_in_at is None:
            return
        idle = time.monotonic() - checked_in_at > idle_ping_seconds
        if not idle and not _closed_by_server(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # A DisconnectionError: the pool replaces this connection and, like
            # pool_pre_ping, every other one opened before now (a restart drops them all).
            raise exc.InvalidatePoolError("the idle connection failed its ping") from error


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application from the environment, with `test_config` overriding it."""
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(config.JWT_SETTINGS)
    app.config.from_mapping(config.from_environ(os.environ))
    if test_config is not None:
        app.config.from_mapping(test_config)
    if test_config is None or "TESTING" not in test_config:
        app.testing = app.config["APP_ENV"] == "test"
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        config.engine_options(
            app.config["SQLALCHEMY_DATABASE_URI"],
            pool_size=app.config["DB_POOL_SIZE"],
            pool_timeout=app.config["DB_POOL_TIMEOUT"],
        ),
    )
    app.config.setdefault("DB_IDLE_PING_SECONDS", config.IDLE_PING_SECONDS)
    secret = app.config["JWT_SECRET_KEY"]
    is_default = secret == config.DEVELOPMENT_SECRET_KEY
    config.check_secret(app.config["APP_ENV"], None if is_default else secret)
    if is_default:
        log.warning("JWT_SECRET_KEY is not set; using the development key (never in production).")
    if app.config["APP_ENV"] == "test":
        log.warning("APP_ENV=test: passwords are hashed with cheap parameters (test suites only).")

    # Paths are exact: no redirect to a merged or slash-terminated spelling.
    app.url_map.strict_slashes = True
    app.url_map.merge_slashes = False

    db.init_app(app)
    migrate.init_app(app, db)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine)
        elif db.engine.dialect.name == "postgresql":
            _configure_postgres(db.engine, idle_ping_seconds=app.config["DB_IDLE_PING_SECONDS"])
    if app.config["REDIS_URL"]:
        app.extensions["redis_client"] = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=2
        )

    # Imported here, after gunicorn.conf.py has chosen the metrics directory (app.telemetry).
    from . import metrics

    # Before the middleware's hooks, so that its early answers (413, preflights) are timed.
    metrics.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    middleware.init_app(app)
    cli.init_app(app)
    telemetry.init_app(app)

    from .routes import auth, docs, health, users

    app.url_map.converters["user_id"] = users.UserIdConverter
    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(users.bp)
    return app
