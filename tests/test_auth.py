"""Login, token pairs, refresh rotation and reuse detection, logout."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from helpers import (
    LOGOUT,
    ME,
    PASSWORD,
    REFRESH,
    TOKEN,
    Account,
    Api,
    bearer,
    claims,
    header,
    problem,
    race,
    raw_json,
    unique_email,
)

BAD_LOGIN = "Incorrect email or password."
INVALID_TOKEN = "Invalid or expired token."
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _check_pair(api: Api, body: dict[str, object], user_id: int) -> None:
    assert body["token_type"] == "bearer"
    access, refresh = str(body["access_token"]), str(body["refresh_token"])
    for token, kind in ((access, "access"), (refresh, "refresh")):
        assert header(token)["alg"] == "HS256"
        payload = claims(token)
        assert payload["sub"] == str(user_id)
        assert payload["type"] == kind
        assert isinstance(payload["jti"], str)
        assert 1 <= len(payload["jti"]) <= 64
        assert isinstance(payload["iat"], int)
        assert isinstance(payload["exp"], int)
        assert payload["exp"] > payload["iat"]
    assert claims(access)["jti"] != claims(refresh)["jti"]
    access_claims = claims(access)
    assert body["expires_in"] == access_claims["exp"] - access_claims["iat"]
    if api.expires_in is not None:
        assert body["expires_in"] == api.expires_in
    if api.expires_in is not None:
        # The servers the suite starts keep the default REFRESH_TOKEN_DAYS.
        refresh_claims = claims(refresh)
        assert refresh_claims["exp"] - refresh_claims["iat"] == 7 * 24 * 3600


def test_login_with_form_data(api: Api) -> None:
    account = api.register(login=False)
    response = api.client.post(
        TOKEN,
        data={"username": account.email, "password": account.password, "grant_type": "password"},
    )
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    _check_pair(api, response.json(), account.id)
    assert api.me(response.json()["access_token"]).json()["id"] == account.id


def test_login_with_json(api: Api) -> None:
    account = api.register(login=False)
    response = api.client.post(
        TOKEN, json={"username": account.email, "password": account.password}
    )
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    _check_pair(api, response.json(), account.id)


def test_login_with_extra_oauth2_form_fields(api: Api) -> None:
    account = api.register(login=False)
    response = api.client.post(
        TOKEN,
        data={
            "username": account.email,
            "password": account.password,
            "scope": "",
            "client_id": "swagger",
            "client_secret": "",
        },
    )
    assert response.status_code == 200


def test_a_form_field_given_twice_is_400(api: Api) -> None:
    account = api.register(login=False)
    form = httpx.QueryParams(
        [("username", account.email), ("username", account.email), ("password", account.password)]
    )
    response = api.client.post(
        TOKEN,
        content=str(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert problem(response)["status"] == 400


def test_jti_is_unique_per_login(api: Api) -> None:
    account = api.register(login=False)
    first = api.login(account.email, account.password)
    second = api.login(account.email, account.password)
    assert claims(first["access_token"])["jti"] != claims(second["access_token"])["jti"]
    assert claims(first["refresh_token"])["jti"] != claims(second["refresh_token"])["jti"]


@pytest.mark.parametrize("grant_type", ["client_credentials", "refresh_token", "", "PASSWORD"])
def test_other_grant_types_are_400(api: Api, grant_type: str) -> None:
    account = api.register(login=False)
    response = api.client.post(
        TOKEN,
        data={"username": account.email, "password": account.password, "grant_type": grant_type},
    )
    assert response.status_code == 400
    as_json = api.client.post(
        TOKEN,
        json={"username": account.email, "password": account.password, "grant_type": grant_type},
    )
    assert as_json.status_code in (400, 422)


def test_credentials_in_the_query_string_are_never_read(api: Api) -> None:
    account = api.register(login=False)
    params = {"username": account.email, "password": account.password}
    response = api.client.post(TOKEN, params=params, data={})
    assert response.status_code in (400, 401, 422)
    response = api.client.post(TOKEN, params=params, json={})
    assert response.status_code in (400, 401, 422)
    pair = api.login(account.email, account.password)
    me = api.client.get(
        ME, params={"access_token": pair["access_token"], "token": pair["access_token"]}
    )
    assert me.status_code == 401


def test_failed_logins_have_identical_bodies(api: Api, admin: dict[str, str]) -> None:
    known = api.register(login=False)
    inactive = api.register(login=False)
    assert (
        api.client.post(f"/api/v1/users/{inactive.id}/deactivate", headers=admin).status_code == 200
    )
    answers = [
        api.login_response(unique_email("ghost"), "whatever-pass"),
        api.login_response(known.email, known.password + "x"),
        api.login_response(inactive.email, inactive.password),
    ]
    for response in answers:
        assert response.status_code == 401
        assert problem(response)["detail"] == BAD_LOGIN
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert answers[0].content == answers[1].content == answers[2].content


@pytest.mark.parametrize(
    "body",
    [
        {"username": "x@example.com"},
        {"password": "whatever"},
        {"username": 5, "password": "whatever"},
        {"username": "x@example.com", "password": True},
        {"username": "x@example.com", "password": "pw", "extra": 1},
        {"username": "", "password": "whatever"},
        {"username": "x@example.com", "password": "p" * 1025},
        {"username": "nul\u0000@example.com", "password": "whatever"},
    ],
)
def test_login_json_validation(api: Api, body: dict[str, object]) -> None:
    response = raw_json(api.client, "POST", TOKEN, body)
    assert response.status_code == 422


def test_login_form_missing_fields_is_422(api: Api) -> None:
    response = api.client.post(TOKEN, data={"username": unique_email()})
    assert response.status_code == 422


def test_login_username_is_case_insensitive_and_trimmed(api: Api) -> None:
    account = api.register(login=False)
    response = api.login_response(account.email.upper(), account.password)
    assert response.status_code == 200
    response = api.login_response(f"  {account.email}\t", account.password)
    assert response.status_code == 200


def test_login_password_is_not_trimmed(api: Api) -> None:
    account = api.register(login=False)
    response = api.login_response(account.email, f" {account.password} ")
    assert response.status_code == 401


def test_no_token_and_rejected_token_challenges(api: Api) -> None:
    missing = api.client.get(ME)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert problem(missing)["detail"] == "Not authenticated."
    rejected = api.client.get(ME, headers=bearer("not-a-jwt"))
    assert rejected.status_code == 401
    assert rejected.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert problem(rejected)["detail"] == INVALID_TOKEN


# -- refresh -----------------------------------------------------------------------


def test_refresh_rotates(api: Api) -> None:
    account = api.register()
    response = api.refresh(account.refresh)
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    pair = response.json()
    _check_pair(api, pair, account.id)
    assert pair["refresh_token"] != account.refresh
    assert api.me(pair["access_token"]).status_code == 200
    again = api.refresh(account.refresh)
    assert again.status_code == 401
    assert problem(again)["detail"] == INVALID_TOKEN
    assert again.headers["www-authenticate"].startswith("Bearer")


def test_reuse_revokes_the_whole_family(api: Api) -> None:
    account = api.register()
    first = api.refresh(account.refresh).json()
    second = api.refresh(first["refresh_token"]).json()
    # A second login is another family and must survive.
    other = api.login(account.email, account.password)
    reuse = api.refresh(account.refresh)
    assert reuse.status_code == 401
    latest = api.refresh(second["refresh_token"])
    assert latest.status_code == 401, "reuse must revoke every refresh token of the family"
    survivor = api.refresh(other["refresh_token"])
    assert survivor.status_code == 200


def test_access_token_is_not_a_refresh_token(api: Api, reader: Account) -> None:
    account = reader
    response = api.refresh(account.access)
    assert response.status_code == 401
    as_bearer = api.client.get(ME, headers=bearer(account.refresh))
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 1024])
def test_refresh_with_junk_is_401(api: Api, token: str) -> None:
    response = api.refresh(token)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": 5}, {"refresh_token": None}, {"refresh_token": "x", "y": 1}]
)
def test_refresh_validation(api: Api, body: dict[str, object]) -> None:
    response = api.client.post(REFRESH, json=body)
    assert response.status_code == 422


def test_refresh_token_in_the_authorization_header_is_not_read(api: Api) -> None:
    account = api.register()
    response = api.client.post(REFRESH, json={}, headers=bearer(account.refresh))
    assert response.status_code == 422


def test_concurrent_refreshes_exactly_one_wins(api: Api) -> None:
    account = api.register()

    def refresh(_: int) -> int:
        return api.refresh(account.refresh).status_code

    statuses = race(8, refresh)
    assert sorted(statuses) == [200] + [401] * 7


# -- logout ------------------------------------------------------------------------


def test_logout_revokes_the_access_token_and_refresh_family(api: Api) -> None:
    account = api.register()
    rotated = api.refresh(account.refresh).json()
    other = api.login(account.email, account.password)
    response = api.client.post(
        LOGOUT,
        json={"refresh_token": rotated["refresh_token"]},
        headers=bearer(rotated["access_token"]),
    )
    assert response.status_code == 204
    assert response.content == b""
    # Repeated so that both worker processes are asked.
    for _ in range(6):
        assert api.across_workers.me(rotated["access_token"]).status_code == 401
    assert api.refresh(rotated["refresh_token"]).status_code == 401
    # Another login of the same user is untouched.
    assert api.me(other["access_token"]).status_code == 200
    assert api.refresh(other["refresh_token"]).status_code == 200


def test_logout_without_refresh_token_keeps_the_refresh_token(api: Api) -> None:
    account = api.register()
    response = api.logout(account.access)
    assert response.status_code == 204
    assert api.me(account.access).status_code == 401
    assert api.logout(account.access).status_code == 401
    assert api.refresh(account.refresh).status_code == 200


def test_logout_with_an_empty_json_object(api: Api) -> None:
    account = api.register()
    response = api.client.post(LOGOUT, json={}, headers=account.headers)
    assert response.status_code == 204


@pytest.mark.parametrize("body", [b"null", b"[]", b'"text"', b"42", b"true"])
def test_logout_with_json_that_is_not_an_object_is_422_and_revokes_nothing(
    api: Api, body: bytes
) -> None:
    # The body is optional, but one that is sent must be an object: `null` is not
    # "no body".
    account = api.register()
    response = api.client.post(
        LOGOUT, content=body, headers={**account.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "body" in {e["field"] for e in problem(response)["errors"]}
    assert api.me(account.access).status_code == 200


def test_login_with_a_null_grant_type_is_rejected(api: Api) -> None:
    account = api.register(login=False)
    response = api.client.post(
        TOKEN, json={"username": account.email, "password": account.password, "grant_type": None}
    )
    # Not a string, and not `password`: either answer is the contract's.
    assert response.status_code in {400, 422}


@pytest.mark.parametrize("value", [None, 42, True, [], {}])
def test_logout_with_a_refresh_token_that_is_not_a_string_is_422(api: Api, value: object) -> None:
    account = api.register()
    response = api.client.post(LOGOUT, json={"refresh_token": value}, headers=account.headers)
    assert response.status_code == 422
    assert {e["field"] for e in problem(response)["errors"]} == {"refresh_token"}
    assert api.me(account.access).status_code == 200


def test_logout_with_someone_elses_refresh_token_revokes_nothing_of_theirs(api: Api) -> None:
    me = api.register()
    victim = api.register()
    response = api.logout(me.access, victim.refresh)
    assert response.status_code == 204
    assert api.me(me.access).status_code == 401
    assert api.me(victim.access).status_code == 200
    assert api.refresh(victim.refresh).status_code == 200


@pytest.mark.parametrize("refresh_token", ["garbage", "a.b.c", ""])
def test_logout_with_unknown_refresh_token_is_204(api: Api, refresh_token: str) -> None:
    account = api.register()
    response = api.logout(account.access, refresh_token)
    assert response.status_code == 204


def test_logout_with_an_already_revoked_refresh_token_is_204(api: Api) -> None:
    account = api.register()
    api.refresh(account.refresh)
    fresh = api.login(account.email, account.password)
    response = api.client.post(
        LOGOUT, json={"refresh_token": account.refresh}, headers=bearer(fresh["access_token"])
    )
    assert response.status_code == 204


def test_logout_needs_a_token(api: Api) -> None:
    response = api.client.post(LOGOUT)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_logout_with_a_refresh_token_as_bearer_is_401(api: Api) -> None:
    account = api.register()
    response = api.logout(account.refresh)
    assert response.status_code == 401


def test_jti_is_a_uuid(api: Api, reader: Account) -> None:
    account = reader
    for token in (account.access, account.refresh):
        jti = claims(token)["jti"]
        assert UUID_RE.match(jti), jti
        uuid.UUID(jti)


def _replay_racing_its_successor(api: Api) -> None:
    account = api.register()
    successor = api.refresh(account.refresh).json()["refresh_token"]
    tokens = (account.refresh, successor)
    for answer in race(2, lambda i: api.refresh(tokens[i])):
        if answer.status_code == 200:
            assert api.refresh(answer.json()["refresh_token"]).status_code == 401


def test_a_replay_racing_a_refresh_of_its_successor_leaves_no_token_working(api: Api) -> None:
    # Reuse revokes the family; a successor issued in the same moment belongs to it too.
    for _ in range(12):
        _replay_racing_its_successor(api)


def _refresh_racing_a_password_change(api: Api) -> None:
    account = api.register()
    body = {"current_password": account.password, "new_password": "another password 1"}

    def act(i: int) -> httpx.Response:
        if i == 0:
            return api.client.put(PASSWORD, json=body, headers=bearer(account.access))
        return api.refresh(account.refresh)

    changed, refreshed = race(2, act)
    assert changed.status_code == 204
    if refreshed.status_code == 200:
        pair = refreshed.json()
        assert api.refresh(pair["refresh_token"]).status_code == 401
        assert api.me(pair["access_token"]).status_code == 401


def test_a_refresh_racing_a_password_change_leaves_no_token_working(api: Api) -> None:
    for _ in range(12):
        _refresh_racing_a_password_change(api)
