from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.config import (
    DEFAULT_DATABASE_URL,
    ConfigError,
    database_uri,
)
from app.db import engine_options
from app.security import hash_password

from .conftest import ConfigFrom


def test_config(app: Flask, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    assert not create_app({"APP_ENV": "development", "SQLALCHEMY_DATABASE_URI": uri}).testing
    assert app.testing
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_defaults_from_an_empty_environment(config_from: ConfigFrom) -> None:
    config = config_from({})
    assert config["APP_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == DEFAULT_DATABASE_URL
    assert config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds() == 15 * 60
    assert config["JWT_REFRESH_TOKEN_EXPIRES"].days == 7
    assert config["LOGIN_MAX_FAILURES"] == 5
    assert config["LOGIN_FAILURE_WINDOW_SECONDS"] == 60
    assert config["CORS_ALLOWED_ORIGINS"] == []
    assert config["REDIS_URL"] is None


def test_default_database_is_inside_the_service_folder() -> None:
    service_dir = Path(__file__).resolve().parent.parent
    assert f"sqlite:///{service_dir / 'db.sqlite3'}" == DEFAULT_DATABASE_URL


@pytest.mark.parametrize("secret", [None, "", "short"])
def test_production_refuses_a_missing_or_short_secret(
    secret: str | None, config_from: ConfigFrom
) -> None:
    environ = {"APP_ENV": "production"}
    if secret is not None:
        environ["JWT_SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        config_from(environ)


def test_production_accepts_a_long_secret(config_from: ConfigFrom) -> None:
    config = config_from({"APP_ENV": "production", "JWT_SECRET_KEY": "x" * 32})
    assert config["JWT_SECRET_KEY"] == "x" * 32


def test_create_app_refuses_production_without_secret() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        create_app({"APP_ENV": "production"})


def test_invalid_numbers_are_named(config_from: ConfigFrom) -> None:
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_MINUTES"):
        config_from({"ACCESS_TOKEN_MINUTES": "soon"})


def test_database_urls_get_this_services_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert database_uri("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert database_uri("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert database_uri("sqlite:////abs/db.sqlite3") == "sqlite:////abs/db.sqlite3"
    monkeypatch.chdir(tmp_path)
    # Relative to the working directory, not Flask's instance folder.
    assert database_uri("sqlite:///rel.db") == f"sqlite:///{tmp_path.resolve() / 'rel.db'}"


@pytest.mark.parametrize("uri", ["postgresql+psycopg://h/d", "postgresql+psycopg://h"])
def test_postgres_fails_fast_and_replaces_dropped_connections(uri: str) -> None:
    # A URL without a database name (the user's own) is a PostgreSQL engine all the same.
    options = engine_options(uri)
    assert options["connect_args"]["connect_timeout"] == 2
    assert options["pool_timeout"] <= 2
    assert options["pool_pre_ping"] is True
    assert (options["pool_size"], options["max_overflow"]) == (5, 0)


def test_cors_and_proxies_are_lists(config_from: ConfigFrom) -> None:
    config = config_from(
        {"CORS_ALLOWED_ORIGINS": "http://a.test, http://b.test", "FORWARDED_ALLOW_IPS": "10.0.0.1"}
    )
    assert config["CORS_ALLOWED_ORIGINS"] == ["http://a.test", "http://b.test"]
    assert config["FORWARDED_ALLOW_IPS"] == ["10.0.0.1"]


@pytest.mark.parametrize(
    ("app_env", "parameters"),
    [("test", "m=1024,t=1,p=1"), ("development", "m=65536,t=3,p=4")],
)
def test_only_app_env_test_hashes_with_cheap_parameters(
    tmp_path: Path, app_env: str, parameters: str
) -> None:
    uri = f"sqlite:///{tmp_path / 'hash.sqlite3'}"
    with create_app({"APP_ENV": app_env, "SQLALCHEMY_DATABASE_URI": uri}).app_context():
        assert f"$argon2id$v=19${parameters}$" in hash_password("a password")
