"""What a request asks of the database: each statement is a round trip under load."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from app.extensions import db

from .conftest import Api, bearer
from .test_auth import REFRESH


# --8<-- [start:statements]
@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL the app runs from now on, upper-cased."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()).upper())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)
    # --8<-- [end:statements]


def test_a_rotation_reads_its_token_row_in_the_update(
    api: Api, client: FlaskClient, statements: list[str]
) -> None:
    _, pair = api.user_with_token()
    statements.clear()
    response = client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200
    # UPDATE ... RETURNING says both that this call won and which family it is in.
    updates = [s for s in statements if s.startswith("UPDATE REFRESH_TOKENS")]
    assert len(updates) == 1
    assert "RETURNING" in updates[0]
    assert [s for s in statements if s.startswith("SELECT") and "FROM REFRESH_TOKENS" in s] == []


# --8<-- [start:one_statement]
def test_an_authenticated_request_reads_the_user_and_the_deny_list_in_one_statement(
    api: Api, client: FlaskClient, statements: list[str]
) -> None:
    _, pair = api.user_with_token()
    statements.clear()
    assert client.get("/api/v1/users/me", headers=bearer(pair)).status_code == 200
    assert len(statements) == 1, statements
    client.post(
        "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=bearer(pair)
    )
    assert client.get("/api/v1/users/me", headers=bearer(pair)).status_code == 401
    # --8<-- [end:one_statement]
