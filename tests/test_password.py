"""Changing the password revokes every earlier token; the new login works at once."""

from __future__ import annotations

from helpers import PASSWORD, Api, error_fields


def test_change_password(api: Api) -> None:
    account = api.register()
    second = api.login(account.email, account.password)
    rotated = api.refresh(second["refresh_token"]).json()
    response = api.client.put(
        PASSWORD,
        json={"current_password": account.password, "new_password": "brand new password"},
        headers=account.headers,
    )
    assert response.status_code == 204
    assert response.content == b""
    # Every token issued before, the one that made the request included, on both workers.
    for _ in range(4):
        for token in (account.access, second["access_token"], rotated["access_token"]):
            assert api.across_workers.me(token).status_code == 401
    for token in (account.refresh, rotated["refresh_token"]):
        assert api.refresh(token).status_code == 401
    assert api.login_response(account.email, account.password).status_code == 401
    # The new login works at once, even within the same second.
    fresh = api.login(account.email, "brand new password")
    for _ in range(4):
        assert api.across_workers.me(fresh["access_token"]).status_code == 200
    assert api.refresh(fresh["refresh_token"]).status_code == 200


def test_wrong_current_password_is_422_and_changes_nothing(api: Api) -> None:
    account = api.register()
    response = api.client.put(
        PASSWORD,
        json={"current_password": account.password + "x", "new_password": "brand new password"},
        headers=account.headers,
    )
    assert response.status_code == 422
    assert "current_password" in error_fields(response)
    assert api.me(account.access).status_code == 200
    assert api.login_response(account.email, account.password).status_code == 200
    assert api.login_response(account.email, "brand new password").status_code == 401


def test_change_password_needs_a_token(api: Api) -> None:
    response = api.client.put(
        PASSWORD, json={"current_password": "whatever-1", "new_password": "whatever-2"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_new_password_may_equal_a_long_unicode_one(api: Api) -> None:
    account = api.register()
    new = "\U0001f511" * 128
    response = api.client.put(
        PASSWORD,
        json={"current_password": account.password, "new_password": new},
        headers=account.headers,
    )
    assert response.status_code == 204
    assert api.login_response(account.email, new).status_code == 200
