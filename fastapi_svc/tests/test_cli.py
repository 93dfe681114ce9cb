"""The command line: bootstrap-admin (from FIRST_ADMIN_*) and create-admin."""

from collections.abc import Iterator

import anyio.to_thread
import pytest
from sqlalchemy import select

from app import cli
from app.config import get_settings
from app.db import create_engine, create_sessionmaker
from app.models import User


async def _users(database_url: str) -> list[User]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list(await session.scalars(select(User).order_by(User.id)))
    finally:
        await engine.dispose()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.delenv("FIRST_ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("FIRST_ADMIN_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _run(argv: list[str]) -> int:
    get_settings.cache_clear()
    return cli.main(argv)


async def test_bootstrap_admin_is_idempotent(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _run_async(["bootstrap-admin"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    monkeypatch.setenv("FIRST_ADMIN_EMAIL", "Root@Example.com")
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", "admin password")
    assert await _run_async(["bootstrap-admin"]) == 0
    assert await _run_async(["bootstrap-admin"]) == 0
    users = await _users(cli_env)
    assert [(u.email, u.is_admin, u.name) for u in users] == [("root@example.com", True, "Admin")]


async def _run_async(argv: list[str]) -> int:
    # The CLI runs its own event loop: call it from a worker thread.
    return await anyio.to_thread.run_sync(_run, argv)


async def test_create_admin(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["create-admin", "--email", "Boss@Example.com", "--password", "boss password"]
    assert await _run_async(argv) == 0
    assert await _run_async(argv) == 1
    assert "already exists" in capsys.readouterr().err
    assert await _run_async(["create-admin", "--email", "bad", "--password", "short"]) == 1
    users = await _users(cli_env)
    assert [(u.email, u.is_admin) for u in users] == [("boss@example.com", True)]


async def test_create_admin_asks_for_the_password_twice(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["first password", "another one", "chosen password", "chosen password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert await _run_async(["create-admin", "--email", "asked@example.com"]) == 1
    assert "differ" in capsys.readouterr().err
    assert await _run_async(["create-admin", "--email", "asked@example.com"]) == 0
    users = await _users(cli_env)
    assert [u.email for u in users] == ["asked@example.com"]
