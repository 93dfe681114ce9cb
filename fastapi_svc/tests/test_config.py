"""Settings: production refuses to start without a strong secret; URL driver mapping."""

import logging

import pytest
from pydantic import ValidationError

from app import serve
from app.config import DEFAULT_DATABASE_URL, SERVICE_DIR, Settings, get_settings
from app.db import async_url


def test_production_without_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET_KEY"):
        Settings.model_validate({"app_env": "production"})


def test_production_with_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET_KEY"):
        Settings.model_validate({"app_env": "production", "jwt_secret_key": "x" * 31})


def test_production_with_32_byte_secret_starts() -> None:
    settings = Settings.model_validate({"app_env": "production", "jwt_secret_key": "é" * 16})
    assert settings.secret_key == "é" * 16


def test_development_warns_without_secret(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.model_validate({"app_env": "development"})
    with caplog.at_level(logging.WARNING, logger="app.config"):
        settings.warn_if_insecure()
    assert "JWT_SECRET_KEY" in caplog.text
    assert settings.secret_key


def test_serve_refuses_production_without_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        assert serve.main() == 1
    finally:
        get_settings.cache_clear()
    assert "JWT_SECRET_KEY" in capsys.readouterr().err


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "7")
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "http://a.example, http://b.example")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.login_max_failures == 7
    assert settings.cors_origins == {"http://a.example", "http://b.example"}
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert f"sqlite:///{SERVICE_DIR / 'db.sqlite3'}" == DEFAULT_DATABASE_URL


@pytest.mark.parametrize(
    ("plain", "driver"),
    [
        ("sqlite:///relative.db", "sqlite+aiosqlite"),
        ("sqlite:////absolute/path.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@localhost:5432/db", "postgresql+asyncpg"),
        ("postgres://u:p@localhost/db", "postgresql+asyncpg"),
    ],
)
def test_driver_is_chosen_from_plain_url(plain: str, driver: str) -> None:
    assert async_url(plain).drivername == driver


def test_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        async_url("mysql://localhost/db")
