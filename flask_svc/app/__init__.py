"""The User API, Flask implementation: `create_app` is the application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask

from . import cli, config, db, errors, hardening, mail, middleware, security, telemetry

log = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application from the environment, with `test_config` overriding it."""
    app = Flask(__name__, static_folder=None)
    app.request_class = hardening.BoundedMethodRequest
    app.config.from_mapping(config.JWT_SETTINGS)
    app.config.from_mapping(config.from_environ())
    if test_config is not None:
        app.config.from_mapping(test_config)
    if test_config is None or "TESTING" not in test_config:
        app.testing = app.config["APP_ENV"] == "test"
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
    mail.init_app(app)
    telemetry.init_app(app)

    from .routes import auth, docs, health, users

    app.url_map.converters["user_id"] = users.UserIdConverter
    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(users.bp)
    return app
