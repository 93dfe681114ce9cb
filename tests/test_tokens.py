"""Every way a token is rejected, with tokens forged from real ones, and how the
Authorization header is read."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from helpers import (
    ISSUER,
    ME,
    REFRESH,
    USERS,
    Account,
    Api,
    bearer,
    claims,
    forge,
    problem,
    sign,
    unsigned,
)

INVALID = 'Bearer error="invalid_token"'


def _rejected(api: Api, token: str) -> None:
    response = api.client.get(ME, headers=bearer(token))
    assert response.status_code == 401, claims_or_raw(token)
    assert response.headers["www-authenticate"] == INVALID
    assert problem(response)["detail"] == "Invalid or expired token."


def claims_or_raw(token: str) -> object:
    try:
        return claims(token)
    except jwt.PyJWTError:
        return token


def test_a_forged_copy_with_the_same_claims_is_accepted(
    api: Api, reader: Account, secret: str
) -> None:
    # Proves the forging itself is sound, so the rejections below mean something.
    account = reader
    copy = forge(account.access, secret)
    assert api.me(copy).status_code == 200


def test_exactly_the_contract_claims_are_enough(api: Api, reader: Account, secret: str) -> None:
    account = reader
    now = int(time.time())
    token = sign(
        {
            "sub": str(account.id),
            "type": "access",
            "jti": "manual-jti-1",
            "iat": now - 5,
            "exp": now + 300,
            "iss": ISSUER,
        },
        secret,
    )
    assert api.me(token).status_code == 200
    extra = sign(
        {
            "sub": str(account.id),
            "type": "access",
            "jti": "manual-jti-2",
            "iat": now - 5,
            "exp": now + 300,
            "iss": ISSUER,
            "fresh": False,
            "whatever": [1, 2],
        },
        secret,
    )
    assert api.me(extra).status_code == 200


def test_claims_the_contract_does_not_name_are_ignored_aud_included(
    api: Api, reader: Account, secret: str
) -> None:
    assert api.me(forge(reader.access, secret, aud="another-audience")).status_code == 200


def test_bad_signature(api: Api, reader: Account) -> None:
    account = reader
    _rejected(api, forge(account.access, "another-secret-that-is-long-enough-123456"))
    head, body, signature = account.access.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _rejected(api, f"{head}.{body}.{flipped}")
    _rejected(api, f"{head}.{body}.")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS256"])
def test_unsigned_tokens(api: Api, reader: Account, alg: str) -> None:
    account = reader
    _rejected(api, unsigned(account.access, alg))


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_algorithms_with_the_right_key(
    api: Api, reader: Account, secret: str, alg: str
) -> None:
    account = reader
    _rejected(api, jwt.encode(claims(account.access), secret, algorithm=alg))


@pytest.mark.parametrize(
    "token",
    ["x", "a.b", "a.b.c", "a.b.c.d", "....", "eyJhbGciOiJIUzI1NiJ9.e30.", "Ω.Ω.Ω"],
)
def test_malformed(api: Api, token: str) -> None:
    response = api.client.get(ME, headers=[(b"Authorization", f"Bearer {token}".encode())])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID


def test_expired(api: Api, reader: Account, secret: str) -> None:
    account = reader
    now = int(time.time())
    _rejected(api, forge(account.access, secret, iat=now - 120, exp=now - 60))
    _rejected(api, forge(account.access, secret, iat=now - 120, exp=now - 2))


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_not_yet_valid(api: Api, reader: Account, secret: str, claim: str) -> None:
    account = reader
    now = int(time.time())
    _rejected(api, sign({**claims(account.access), claim: now + 120}, secret))
    # No leeway: even a few seconds ahead is too early.
    _rejected(api, sign({**claims(account.access), claim: now + 20}, secret))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "type", "jti", "iss"])
def test_missing_claims(api: Api, reader: Account, secret: str, claim: str) -> None:
    account = reader
    _rejected(api, forge(account.access, secret, drop=[claim]))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 1),
        ("sub", None),
        ("sub", ["1"]),
        ("sub", "abc"),
        ("sub", "1.0"),
        ("sub", " 1"),
        ("sub", "-1"),
        ("sub", "0"),
        ("sub", "99999999999999999999999"),
        ("type", "refresh"),
        ("type", "ACCESS"),
        ("type", None),
        ("type", 1),
        ("jti", ""),
        ("jti", 5),
        ("jti", None),
        ("jti", "j" * 65),
        ("exp", "9999999999"),
        ("iat", "0"),
        ("exp", 1.5),
        # One reading of every detail, and no token that reaches the database badly.
        ("sub", "02"),
        ("jti", "a\x00b"),
        ("jti", "\ud800"),
        ("jti", "with space"),
        ("exp", 10**20),
        ("nbf", "0"),
        ("nbf", 1.5),
        ("iss", "another-service"),
    ],
)
def test_bad_claim_values(api: Api, reader: Account, secret: str, claim: str, value: Any) -> None:
    account = reader
    if claim == "sub" and value == 1:
        value = account.id  # the user's own id, but as a number
    _rejected(api, forge(account.access, secret, **{claim: value}))


def test_sub_naming_no_user(api: Api, reader: Account, secret: str) -> None:
    account = reader
    _rejected(api, forge(account.access, secret, sub="9223372036854775000"))


def test_refresh_type_checks(api: Api, secret: str) -> None:
    account = api.register()
    as_access = forge(account.refresh, secret, type="access")
    # A refresh token relabelled as access: signed correctly, so only its
    # jti and claims decide; the refresh endpoint still wants type refresh.
    response = api.client.post(REFRESH, json={"refresh_token": forge(account.access, secret)})
    assert response.status_code == 401
    assert api.refresh(as_access).status_code == 401
    expired = forge(account.refresh, secret, exp=int(time.time()) - 10)
    assert api.refresh(expired).status_code == 401
    no_jti = forge(account.refresh, secret, drop=["jti"])
    assert api.refresh(no_jti).status_code == 401


def test_unknown_valid_refresh_token_starts_a_new_family(api: Api, secret: str) -> None:
    # As if issued by another service with the same secret: accepted once.
    account = api.register()
    now = int(time.time())
    foreign = sign(
        {
            "sub": str(account.id),
            "type": "refresh",
            "jti": "foreign-refresh-" + str(now) + "-" + str(account.id),
            "iat": now - 1,
            "exp": now + 3600,
            "iss": ISSUER,
        },
        secret,
    )
    first = api.refresh(foreign)
    assert first.status_code == 200
    second = api.refresh(foreign)
    assert second.status_code == 401
    # The reuse revoked the new family too.
    rotated = first.json()["refresh_token"]
    assert api.refresh(rotated).status_code == 401


def test_deleted_users_token_never_reaches_a_new_account(api: Api, secret: str) -> None:
    account = api.register()
    api.client.delete(ME, headers=account.headers)
    _rejected(api, account.access)
    _rejected(api, forge(account.access, secret, jti="after-delete-" + str(account.id)))
    newcomer = api.register()
    assert newcomer.id != account.id


def test_inactive_users_tokens_stop_at_once(api: Api, admin: dict[str, str]) -> None:
    account = api.register()
    assert api.client.post(f"{USERS}/{account.id}/deactivate", headers=admin).status_code == 200
    for _ in range(4):
        _rejected(api.across_workers, account.access)
    assert api.refresh(account.refresh).status_code == 401
    assert api.client.post(f"{USERS}/{account.id}/activate", headers=admin).status_code == 200
    # Deactivation ended every session: reactivation brings no old token back.
    _rejected(api, account.access)
    assert api.refresh(account.refresh).status_code == 401
    assert api.me(api.relogin(account).access).status_code == 200


# -- the Authorization header ----------------------------------------------------


def test_bearer_scheme_is_case_insensitive(api: Api, reader: Account) -> None:
    account = reader
    for scheme in ("bearer", "BEARER", "BeArEr"):
        response = api.client.get(ME, headers={"Authorization": f"{scheme} {account.access}"})
        assert response.status_code == 200, scheme


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Basic dXNlcjpwYXNz", "Token abc", "Bearer a.b.c", "Bearer x y"],
)
def test_bad_authorization_headers(api: Api, authorization: str) -> None:
    response = api.client.get(ME, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] in ('Bearer error="invalid_token"', "Bearer")


@pytest.mark.parametrize("separator", ["\t", "  "])
def test_the_scheme_is_followed_by_exactly_one_space(
    api: Api, reader: Account, separator: str
) -> None:
    response = api.client.get(ME, headers={"Authorization": f"Bearer{separator}{reader.access}"})
    assert response.status_code == 401


def test_two_authorization_headers_authenticate_nobody(api: Api, reader: Account) -> None:
    twice = [("Authorization", f"Bearer {reader.access}")] * 2
    assert api.client.get(ME, headers=twice).status_code in (400, 401)
