"""DB_POOL_SIZE and DB_POOL_TIMEOUT: psycopg's pool on PostgreSQL, a 503 when it is
exhausted. The PostgreSQL test uses a real server (TEST_POSTGRES_URL, default the
local `postgres` database) and is skipped when none answers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import database_from_url

SERVICE = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_available() -> bool:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh Django process configured by `env` alone."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DB_POOL_", "DATABASE_"))}
    environ.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"],
        cwd=SERVICE,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_postgres_gets_a_pool_of_db_pool_size_connections() -> None:
    database = database_from_url("postgresql://u:p@db:5432/users", pool_size=3, pool_timeout=7)
    pool = database["OPTIONS"]["pool"]
    assert (pool["min_size"], pool["max_size"], pool["timeout"]) == (1, 3, 7)
    assert database["OPTIONS"]["connect_timeout"] == 2
    # Django refuses a pool with persistent connections.
    assert database.get("CONN_MAX_AGE", 0) == 0


def test_sqlite_has_no_pool() -> None:
    assert "pool" not in database_from_url("sqlite:///db.sqlite3")["OPTIONS"]


def test_the_url_is_read_by_dj_database_url() -> None:
    database = database_from_url("postgres://u:p%40ss@db:5433/users")
    assert (database["USER"], database["PASSWORD"], database["HOST"]) == ("u", "p@ss", "db")
    assert (str(database["PORT"]), database["NAME"]) == ("5433", "users")
    assert database_from_url("sqlite:////abs/x.db")["NAME"] == "/abs/x.db"
    for url in ("mysql://u@h/d", "nonsense"):
        with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
            database_from_url(url)


def test_pool_settings_reach_databases_from_the_environment() -> None:
    code = (
        "from django.conf import settings\n"
        "pool = settings.DATABASES['default']['OPTIONS']['pool']\n"
        "print(__import__('json').dumps([pool['max_size'], pool['timeout']]))"
    )
    defaults = _django(code, DATABASE_URL="postgresql://u@db/users")
    assert defaults.returncode == 0, defaults.stderr
    assert json.loads(defaults.stdout) == [5, 2]
    chosen = _django(
        code, DATABASE_URL="postgresql://u@db/users", DB_POOL_SIZE="3", DB_POOL_TIMEOUT="7"
    )
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout) == [3, 7]


@pytest.mark.parametrize(("name", "value"), [("DB_POOL_SIZE", "0"), ("DB_POOL_TIMEOUT", "soon")])
def test_invalid_pool_settings_are_refused(name: str, value: str) -> None:
    result = _django("", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr


# Holds the worker's only connection in one thread, asks for /ready in another.
EXHAUST = """
import threading
from django.db import connection
from django.test import Client

held, release = threading.Event(), threading.Event()

def hold():
    connection.ensure_connection()
    held.set()
    release.wait()
    connection.close()

holder = threading.Thread(target=hold)
holder.start()
held.wait()
busy = Client().get("/ready")
release.set()
holder.join()
again = Client().get("/ready")
print(busy.status_code, busy["Retry-After"], busy["Content-Type"], again.status_code)
"""


@pytest.mark.skipif(not _postgres_available(), reason="no PostgreSQL to test against")
def test_an_exhausted_pool_is_503_with_retry_after() -> None:
    result = _django(EXHAUST, DATABASE_URL=POSTGRES_URL, DB_POOL_SIZE="1", DB_POOL_TIMEOUT="1")
    assert result.returncode == 0, result.stderr
    # The last line: the request log lines come first.
    assert result.stdout.splitlines()[-1].split() == ["503", "5", "application/problem+json", "200"]
