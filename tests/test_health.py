"""`/health` and `/ready`, and HEAD wherever GET is answered."""

from __future__ import annotations

from helpers import ME, Account, Api, bearer


def test_health(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"].startswith("application/json")


def test_ready(api: Api) -> None:
    response = api.client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_head_is_answered_where_get_is(api: Api) -> None:
    for path in ("/health", "/ready"):
        response = api.client.head(path)
        assert response.status_code == 200
        assert response.content == b""
    response = api.client.head(ME)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_head_with_a_token(api: Api, reader: Account) -> None:
    response = api.client.head(ME, headers=bearer(reader.access))
    assert response.status_code == 200
    assert response.content == b""


def test_health_ignores_query_parameters(api: Api) -> None:
    response = api.client.get("/health", params={"unknown": "1"})
    assert response.status_code == 200
