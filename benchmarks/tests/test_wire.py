"""The round-trip counter on a real PostgreSQL (POSTGRES_URL, the local server by default)."""

from __future__ import annotations

import os

import psycopg
import pytest

from bench import wire

POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def database_url() -> str:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"no PostgreSQL at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL


def test_each_statement_and_each_transaction_end_is_one_round_trip(database_url: str) -> None:
    with wire.counting_proxy(database_url) as (counter, proxied):
        # psycopg asks for TLS first (sslmode=prefer); the proxy declines it.
        with psycopg.connect(proxied) as connection:
            connected = counter.count
            assert connected >= 1  # the start-up ends with one ReadyForQuery
            connection.execute("SELECT 1").fetchone()
            connection.execute("SELECT 2").fetchone()
            connection.commit()
            # psycopg sends its BEGIN on its own: BEGIN, two statements, COMMIT.
            assert counter.count - connected == 4
        with psycopg.connect(proxied, autocommit=True) as connection:
            before = counter.count
            connection.execute("SELECT %s::int", (1,)).fetchone()  # extended protocol
            assert counter.count - before == 1
