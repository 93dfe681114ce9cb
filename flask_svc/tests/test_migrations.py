"""The committed migrations build the schema the models describe."""

from __future__ import annotations

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from app.extensions import db


def test_upgrade_matches_the_models(app: Flask) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context():
        db.drop_all()
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "refresh_tokens", "revoked_tokens", "login_failures"} <= tables
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as connection:
                ddl = connection.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'users'")
                ).scalar_one()
            assert "AUTOINCREMENT" in ddl
