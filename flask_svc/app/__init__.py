"""The User API, Flask implementation: `create_app` is the application factory."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask
from sqlalchemy import Connection, Engine, event

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
    secret = app.config["JWT_SECRET_KEY"]
    is_default = secret == config.DEVELOPMENT_SECRET_KEY
    config.check_secret(app.config["APP_ENV"], None if is_default else secret)
    if is_default:
        log.warning("JWT_SECRET_KEY is not set; using the development key (never in production).")

    # Paths are exact: no redirect to a merged or slash-terminated spelling.
    app.url_map.strict_slashes = True
    app.url_map.merge_slashes = False

    db.init_app(app)
    migrate.init_app(app, db)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine)
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
