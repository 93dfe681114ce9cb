import time
import uuid
from http import HTTPStatus
from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from users.models import User

ME = "/api/v1/users/me"


def forge(claims: dict[str, Any], *, key: str | None = None, alg: str = "HS256") -> str:
    return jwt.encode(claims, key or settings.JWT_SECRET_KEY, algorithm=alg)


def claims_for(user: User, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": str(user.pk),
        "type": "access",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
        "iss": "user-api",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def status(token: str) -> int:
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def test_a_token_of_the_shared_shape_is_accepted(user_client: tuple[Any, User, Any]) -> None:
    _, user, pair = user_client
    payload = jwt.decode(pair["access_token"], settings.JWT_SECRET_KEY, algorithms=["HS256"])
    assert set(payload) == {"sub", "type", "jti", "iat", "exp", "iss"}
    assert payload["sub"] == str(user.pk)
    assert payload["type"] == "access"
    assert str(uuid.UUID(payload["jti"])) == payload["jti"]
    assert status(forge(claims_for(user))) == HTTPStatus.OK


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": 1},
        {"sub": "abc"},
        {"sub": " 1"},
        {"sub": "0"},
        {"sub": "9" * 25},
        {"sub": "02"},
        {"jti": "a\x00b"},
        {"jti": "\ud800"},
        {"exp": 10**20},
        {"nbf": "0"},
        {"nbf": 1.5},
        {"iss": "another-service"},
        {"iss": ...},
        {"type": "refresh"},
        {"jti": ""},
        {"jti": 5},
        {"jti": "j" * 65},
        {"exp": "9999999999"},
        {"exp": 1.5},
        {"iat": "0"},
        {"iat": int(time.time()) + 3600},
        {"nbf": int(time.time()) + 3600},
        {"exp": int(time.time()) - 1},
        {"sub": ...},
        {"type": ...},
        {"jti": ...},
        {"iat": ...},
        {"exp": ...},
    ],
)
def test_bad_claims_are_rejected(
    user_client: tuple[Any, User, Any], changes: dict[str, Any]
) -> None:
    _, user, _ = user_client
    assert status(forge(claims_for(user, **changes))) == HTTPStatus.UNAUTHORIZED


def test_wrong_key_or_algorithm_is_rejected(user_client: tuple[Any, User, Any]) -> None:
    _, user, _ = user_client
    assert status(forge(claims_for(user), key="another-key-" * 4)) == HTTPStatus.UNAUTHORIZED
    assert status(forge(claims_for(user), alg="HS512")) == HTTPStatus.UNAUTHORIZED
    unsigned = jwt.encode(claims_for(user), None, algorithm="none")
    assert status(unsigned) == HTTPStatus.UNAUTHORIZED


def test_a_deleted_users_token_is_rejected(user_client: tuple[Any, User, Any]) -> None:
    api, user, _ = user_client
    user.delete()
    assert api.get(ME).status_code == HTTPStatus.UNAUTHORIZED


# --8<-- [start:one_statement]
def test_an_authenticated_request_reads_the_user_and_the_deny_list_in_one_statement(
    user_client: tuple[APIClient, User, Any], django_assert_num_queries: Any
) -> None:
    client, _, pair = user_client
    with django_assert_num_queries(1):
        assert client.get(ME).status_code == HTTPStatus.OK
    client.post("/api/v1/auth/logout", {"refresh_token": pair["refresh_token"]}, format="json")
    assert client.get(ME).status_code == HTTPStatus.UNAUTHORIZED
    # --8<-- [end:one_statement]
