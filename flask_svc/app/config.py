"""Configuration read from the environment (the variable names shared by every service)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

SERVICE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{SERVICE_DIR / 'db.sqlite3'}"
# Used outside production only; long enough that PyJWT does not warn about it.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
MIN_SECRET_BYTES = 32
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_DB_POOL_SIZE = 5
DEFAULT_DB_POOL_TIMEOUT_SECONDS = 2
APP_ENVS = ("development", "production", "test")


class ConfigError(Exception):
    """The environment does not describe a configuration the service can run with."""


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}.")
    return value


def _csv(environ: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in environ.get(name, "").split(",") if item.strip()]


def database_uri(url: str) -> str:
    """Translate the plain URLs every service accepts into this service's driver URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = url.removeprefix("sqlite:///")
        # Flask-SQLAlchemy would resolve a relative path against the instance
        # folder; the shared convention is the working directory.
        if path and path != ":memory:" and not path.startswith("file:"):
            return f"sqlite:///{Path(path).resolve()}"
    return url


def check_secret(app_env: str, secret: str | None) -> None:
    if app_env != "production":
        return
    if not secret:
        raise ConfigError("JWT_SECRET_KEY must be set when APP_ENV=production.")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"JWT_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes when APP_ENV=production."
        )


def from_environ(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Build the Flask configuration mapping from environment variables."""
    app_env = environ.get("APP_ENV", "development").strip() or "development"
    if app_env not in APP_ENVS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}, got {app_env!r}.")
    secret = environ.get("JWT_SECRET_KEY") or None
    check_secret(app_env, secret)
    uri = database_uri(environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL)
    access_minutes = _int(environ, "ACCESS_TOKEN_MINUTES", 15)
    return {
        "APP_ENV": app_env,
        "SQLALCHEMY_DATABASE_URI": uri,
        "REDIS_URL": environ.get("REDIS_URL", "").strip() or None,
        "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
        "JWT_SECRET_KEY": secret or DEVELOPMENT_SECRET_KEY,
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=access_minutes),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=_int(environ, "REFRESH_TOKEN_DAYS", 7)),
        "LOGIN_MAX_FAILURES": _int(environ, "LOGIN_MAX_FAILURES", 5),
        "LOGIN_FAILURE_WINDOW_SECONDS": _int(environ, "LOGIN_FAILURE_WINDOW_SECONDS", 60),
        "DB_POOL_SIZE": _int(environ, "DB_POOL_SIZE", DEFAULT_DB_POOL_SIZE),
        "DB_POOL_TIMEOUT": _int(environ, "DB_POOL_TIMEOUT", DEFAULT_DB_POOL_TIMEOUT_SECONDS),
        "CORS_ALLOWED_ORIGINS": _csv(environ, "CORS_ALLOWED_ORIGINS"),
        "FORWARDED_ALLOW_IPS": _csv(environ, "FORWARDED_ALLOW_IPS"),
        "FIRST_ADMIN_EMAIL": environ.get("FIRST_ADMIN_EMAIL") or None,
        "FIRST_ADMIN_PASSWORD": environ.get("FIRST_ADMIN_PASSWORD") or None,
    }


# Flask-JWT-Extended settings that give the token shape shared by the three
# services. Each line overrides a library default (see README).
JWT_SETTINGS: dict[str, Any] = {
    "JWT_ALGORITHM": "HS256",
    "JWT_DECODE_ALGORITHMS": ["HS256"],  # default: JWT_ALGORITHM; explicit so `none` never passes
    "JWT_TOKEN_LOCATION": ["headers"],
    "JWT_HEADER_NAME": "Authorization",
    "JWT_HEADER_TYPE": "Bearer",
    "JWT_IDENTITY_CLAIM": "sub",
    "JWT_DECODE_LEEWAY": 0,
    # default True; the shared shape has no nbf (an incoming one is still checked)
    "JWT_ENCODE_NBF": False,
    "JWT_VERIFY_SUB": True,  # PyJWT rejects a non-string sub
    "JWT_COOKIE_CSRF_PROTECT": False,  # default True writes a `csrf` claim into every token
}
