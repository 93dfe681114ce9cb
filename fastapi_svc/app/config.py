"""Settings read from environment variables (the same names in every service)."""

import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{SERVICE_DIR / 'db.sqlite3'}"
DEFAULT_DB_POOL_SIZE = 5
DEFAULT_DB_POOL_TIMEOUT_SECONDS = 2
MIN_SECRET_BYTES = 32
# Only ever used outside production, with a warning at start-up.
DEVELOPMENT_SECRET = "development-only-secret-change-me-0123456789"

logger = logging.getLogger("app.config")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    app_env: Literal["development", "production", "test"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    jwt_secret_key: str | None = None
    # Tokens name this issuer, and only its own are accepted: services that do not
    # share a database must not share both a secret and an issuer.
    jwt_issuer: str = Field(default="user-api", min_length=1)
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=7, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=60, ge=1)
    cors_allowed_origins: str = ""
    redis_url: str | None = None
    first_admin_email: str | None = None
    first_admin_password: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)
    web_concurrency: int = Field(default=2, ge=1)
    # Per worker process: its most database connections, and how long a request waits
    # for a free one before it is answered 503.
    db_pool_size: int = Field(default=DEFAULT_DB_POOL_SIZE, ge=1)
    db_pool_timeout: int = Field(default=DEFAULT_DB_POOL_TIMEOUT_SECONDS, ge=1)
    forwarded_allow_ips: str = ""
    graceful_shutdown_seconds: int = Field(default=20, ge=1)
    # An idle keep-alive connection is closed after this long; behind a load balancer
    # it must outlast the balancer's own idle timeout (60 s on AWS ALB).
    keep_alive_seconds: int = Field(default=75, ge=1)
    # Mail: links point at PUBLIC_BASE_URL; without SMTP_HOST each message goes to the log.
    public_base_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "no-reply@localhost"
    password_reset_minutes: int = Field(default=30, ge=1)
    email_verification_hours: int = Field(default=48, ge=1)
    require_verified_email: bool = False

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> "Settings":
        secret = self.jwt_secret_key
        if self.app_env == "production" and (not secret or len(secret.encode()) < MIN_SECRET_BYTES):
            raise ValueError(
                "JWT_SECRET_KEY must be set to at least 32 bytes when APP_ENV=production"
            )
        return self

    @property
    def secret_key(self) -> str:
        return self.jwt_secret_key or DEVELOPMENT_SECRET

    @property
    def cors_origins(self) -> frozenset[str]:
        return frozenset(o.strip() for o in self.cors_allowed_origins.split(",") if o.strip())

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def access_token_seconds(self) -> int:
        return self.access_token_minutes * 60

    @property
    def refresh_token_seconds(self) -> int:
        return self.refresh_token_days * 86400

    def warn_if_insecure(self) -> None:
        if self.app_env == "development" and not self.jwt_secret_key:
            logger.warning(
                "JWT_SECRET_KEY is not set: using an insecure development key. "
                "Set JWT_SECRET_KEY (at least 32 bytes) before deploying."
            )
        if self.app_env == "test":
            logger.warning(
                "APP_ENV=test: passwords are hashed with cheap parameters (test suites only)."
            )


@lru_cache
def get_settings() -> Settings:
    return Settings()
