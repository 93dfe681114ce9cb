from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app.extensions import db
from app.models import User


def _admins(app: Flask) -> list[User]:
    with app.app_context():
        return list(db.session.scalars(select(User).where(User.is_admin.is_(True))))


def test_bootstrap_admin_is_idempotent(app: Flask, runner: FlaskCliRunner) -> None:
    app.config.update(FIRST_ADMIN_EMAIL="Boss@Example.com", FIRST_ADMIN_PASSWORD="boss password")
    first = runner.invoke(args=["bootstrap-admin"])
    assert first.exit_code == 0, first.output
    assert "Created" in first.output
    second = runner.invoke(args=["bootstrap-admin"])
    assert second.exit_code == 0
    assert "already exists" in second.output
    (admin,) = _admins(app)
    assert admin.email == "boss@example.com"
    assert admin.name == "Admin"
    assert admin.is_active


def test_bootstrap_admin_without_settings_does_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["bootstrap-admin"])
    assert result.exit_code == 0
    assert _admins(app) == []


def test_bootstrap_admin_leaves_an_existing_account(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(args=["create-admin", "--email", "x@example.com", "--password", "pw123456"])
    app.config.update(FIRST_ADMIN_EMAIL="x@example.com", FIRST_ADMIN_PASSWORD="other password")
    assert runner.invoke(args=["bootstrap-admin"]).exit_code == 0
    assert len(_admins(app)) == 1


def test_create_admin(app: Flask, runner: FlaskCliRunner) -> None:
    args = ["create-admin", "--email", "root@example.com", "--password", "root password"]
    result = runner.invoke(args=[*args, "--name", "Root"])
    assert result.exit_code == 0, result.output
    assert [admin.name for admin in _admins(app)] == ["Root"]
    again = runner.invoke(args=args)
    assert again.exit_code != 0
    assert "already exists" in again.output
    invalid = runner.invoke(args=["create-admin", "--email", "bad", "--password", "x"])
    assert invalid.exit_code != 0


def test_prune_tokens(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["prune-tokens"])
    assert result.exit_code == 0
    assert "Removed 0" in result.output
