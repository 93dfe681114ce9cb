"""Configuration read from the environment (the variable names shared by every service)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SERVICE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{SERVICE_DIR / 'db.sqlite3'}"
# Used outside production only; long enough that PyJWT does not warn about it.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
MIN_SECRET_BYTES = 32
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_DB_POOL_SIZE = 5
DEFAULT_DB_POOL_TIMEOUT_SECONDS = 2


class ConfigError(Exception):
    """The environment does not describe a configuration the service can run with."""


CSV = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """The environment variables every service reads, by their shared names."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_ignore_empty=True)

    app_env: Literal["development", "production", "test"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    jwt_secret_key: str | None = None
    # Tokens name this issuer, and only its own are accepted: services that do not
    # share a database must not share both a secret and an issuer.
    jwt_issuer: str = Field(default="user-api", min_length=1)
    access_token_minutes: PositiveInt = 15
    refresh_token_days: PositiveInt = 7
    login_max_failures: PositiveInt = 5
    login_failure_window_seconds: PositiveInt = 60
    db_pool_size: PositiveInt = DEFAULT_DB_POOL_SIZE
    db_pool_timeout: PositiveInt = DEFAULT_DB_POOL_TIMEOUT_SECONDS
    redis_url: str | None = None
    cors_allowed_origins: CSV = []
    forwarded_allow_ips: CSV = []
    first_admin_email: str | None = None
    first_admin_password: str | None = None
    port: int = Field(default=8003, ge=0, le=65535)
    # Mail: links point at PUBLIC_BASE_URL; without SMTP_HOST each message goes to the log.
    public_base_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "no-reply@localhost"
    password_reset_minutes: PositiveInt = 30
    email_verification_hours: PositiveInt = 48
    require_verified_email: bool = False

    @field_validator("cors_allowed_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        check_secret(self.app_env, self.jwt_secret_key)
        return self

    def flask_config(self) -> dict[str, Any]:
        """The Flask configuration keys these settings give."""
        return {
            "APP_ENV": self.app_env,
            "SQLALCHEMY_DATABASE_URI": database_uri(self.database_url),
            "REDIS_URL": self.redis_url,
            "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
            "JWT_SECRET_KEY": self.jwt_secret_key or DEVELOPMENT_SECRET_KEY,
            "JWT_ENCODE_ISSUER": self.jwt_issuer,
            "JWT_DECODE_ISSUER": self.jwt_issuer,
            "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=self.access_token_minutes),
            "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=self.refresh_token_days),
            "LOGIN_MAX_FAILURES": self.login_max_failures,
            "LOGIN_FAILURE_WINDOW_SECONDS": self.login_failure_window_seconds,
            "DB_POOL_SIZE": self.db_pool_size,
            "DB_POOL_TIMEOUT": self.db_pool_timeout,
            "CORS_ALLOWED_ORIGINS": self.cors_allowed_origins,
            "FORWARDED_ALLOW_IPS": self.forwarded_allow_ips,
            "FIRST_ADMIN_EMAIL": self.first_admin_email,
            "FIRST_ADMIN_PASSWORD": self.first_admin_password,
            "PUBLIC_BASE_URL": (self.public_base_url or f"http://127.0.0.1:{self.port}").rstrip(
                "/"
            ),
            # Flask-Mailman: its SMTP backend, or its console backend (the log).
            "MAIL_BACKEND": "smtp" if self.smtp_host else "console",
            "MAIL_SERVER": self.smtp_host or "localhost",
            "MAIL_PORT": self.smtp_port,
            "MAIL_USERNAME": self.smtp_username,
            "MAIL_PASSWORD": self.smtp_password,
            "MAIL_USE_TLS": self.smtp_starttls,
            "MAIL_TIMEOUT": 10,
            "MAIL_DEFAULT_SENDER": self.mail_from,
            "PASSWORD_RESET_MINUTES": self.password_reset_minutes,
            "EMAIL_VERIFICATION_HOURS": self.email_verification_hours,
            "REQUIRE_VERIFIED_EMAIL": self.require_verified_email,
        }


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


def from_environ() -> dict[str, Any]:
    """The Flask configuration from the environment; a bad value is a ConfigError naming it."""
    try:
        return Settings().flask_config()
    except ValidationError as error:
        problems = [f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()]
        raise ConfigError("; ".join(problems)) from None


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
