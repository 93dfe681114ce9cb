"""The Flask ceiling: one JSON view, no extensions, no database; and its floor for a
request that reads the database: one user by primary key through Flask-SQLAlchemy
(psycopg), in autocommit, on a pool of the service's size, with nothing else (no
pre-ping, no token, no extension but Flask-SQLAlchemy).

Served like the service, with its gunicorn.conf.py (run from flask_svc/):
`.venv/bin/gunicorn --pythonpath ../benchmarks/bare flask_app:app`.
`/users/<id>` needs DATABASE_URL: a database the service has migrated.
"""

import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import make_url
from sqlalchemy.orm import Mapped, mapped_column

app = Flask(__name__)
db = SQLAlchemy()


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]


if _url := os.environ.get("DATABASE_URL"):
    app.config["SQLALCHEMY_DATABASE_URI"] = make_url(_url).set(drivername="postgresql+psycopg")
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "isolation_level": "AUTOCOMMIT",
        "pool_size": 5,
        "max_overflow": 0,
    }
    db.init_app(app)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/users/<int:user_id>")
def user(user_id: int) -> dict[str, object]:
    found = db.get_or_404(User, user_id)
    return {"id": found.id, "email": found.email}
