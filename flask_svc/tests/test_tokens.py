"""Tokens forged with the service's secret: the claims must have the shared shape."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient

from .conftest import Api, bearer
from .test_auth import ME, SECRET


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, SECRET, algorithms=["HS256"])
    return claims


def _forge(token: str, changes: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> str:
    claims = {k: v for k, v in _claims(token).items() if k not in drop}
    claims.update(changes or {})
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture
def access(api: Api) -> str:
    _, pair = api.user_with_token()
    token: str = pair["access_token"]
    return token


def test_genuine_token_works(client: FlaskClient, access: str) -> None:
    assert client.get(ME, headers=bearer(access)).status_code == 200


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "type", "jti"])
def test_missing_claims_are_rejected(client: FlaskClient, access: str, claim: str) -> None:
    response = client.get(ME, headers=bearer(_forge(access, drop=(claim,))))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 1),
        ("sub", "abc"),
        ("sub", "0"),
        ("sub", "99999999999999999999"),
        ("type", "refresh"),
        ("type", "ACCESS"),
        ("jti", ""),
        ("jti", 5),
        ("jti", "j" * 65),
        ("exp", "9999999999"),
        ("iat", "0"),
        ("nbf", "0"),
    ],
)
def test_bad_claim_values(client: FlaskClient, access: str, claim: str, value: Any) -> None:
    assert client.get(ME, headers=bearer(_forge(access, {claim: value}))).status_code == 401


def test_time_claims(client: FlaskClient, access: str) -> None:
    now = int(time.time())
    for changes in ({"exp": now - 1}, {"iat": now + 30}, {"nbf": now + 30}):
        assert client.get(ME, headers=bearer(_forge(access, changes))).status_code == 401


def test_other_keys_and_algorithms(client: FlaskClient, access: str) -> None:
    claims = _claims(access)
    forged = [
        jwt.encode(claims, "another-secret-of-sufficient-length-32b", algorithm="HS256"),
        jwt.encode(claims, SECRET, algorithm="HS512"),
        jwt.encode(claims, None, algorithm="none"),
    ]
    for token in forged:
        assert client.get(ME, headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_scheme_is_case_insensitive(client: FlaskClient, access: str, scheme: str) -> None:
    assert client.get(ME, headers={"Authorization": f"{scheme} {access}"}).status_code == 200


@pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer x y", ","])
def test_bad_headers(client: FlaskClient, header: str) -> None:
    response = client.get(ME, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] in ("Bearer", 'Bearer error="invalid_token"')


def test_no_token(client: FlaskClient) -> None:
    response = client.get(ME)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["detail"] == "Not authenticated."


def test_token_is_never_read_from_the_query(client: FlaskClient, access: str) -> None:
    assert client.get(ME, query_string={"access_token": access, "jwt": access}).status_code == 401
