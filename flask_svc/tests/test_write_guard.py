"""The suite's guard (conftest): a write outside begin_write fails the test that ran it."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import update

from app.extensions import begin_write, db
from app.models import User

from .conftest import Api, UnguardedWrite


def test_a_write_without_begin_write_trips_the_guard(
    app: Flask, api: Api, unguarded_writes: list[str]
) -> None:
    created = api.register()
    with app.app_context():
        with pytest.raises(UnguardedWrite):
            db.session.execute(update(User).where(User.id == created["id"]).values(age=41))
        db.session.rollback()
        assert [statement.split()[0] for statement in unguarded_writes] == ["UPDATE"]
        unguarded_writes.clear()  # tripped on purpose

        begin_write()
        db.session.execute(update(User).where(User.id == created["id"]).values(age=41))
        db.session.commit()
    assert unguarded_writes == []
