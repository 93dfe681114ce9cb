"""Account recovery and email verification, followed through real mail: the suite's
SMTP server (tests/inbox.py) receives what the service sends and the tests open the
links. Needs a server the suite started (its mail comes here)."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import ServerFactory
from helpers import (
    ME,
    PASSWORD,
    PASSWORD_RESET,
    PASSWORD_RESET_CONFIRM,
    USERS,
    VERIFICATION_EMAIL,
    VERIFY_EMAIL,
    Account,
    Api,
    field_messages,
    new_password,
    problem,
    unique_email,
)
from inbox import inbox
from servers import RunningServer, free_port

INVALID_TOKEN = {"token": "The token is invalid or has expired."}


@pytest.fixture(autouse=True)
def _needs_the_suites_server(server: RunningServer) -> None:
    """The mails of a service the suite did not start never reach its inbox."""


def _verify(api: Api, token: str) -> httpx.Response:
    return api.client.post(VERIFY_EMAIL, json={"token": token})


def _reset_token(api: Api, account: Account, *, count: int = 1) -> str:
    assert api.client.post(PASSWORD_RESET, json={"email": account.email}).status_code == 202
    return inbox().token(account.email, "reset-password", count=count)


def _confirm(api: Api, token: str, password: str) -> httpx.Response:
    return api.client.post(PASSWORD_RESET_CONFIRM, json={"token": token, "new_password": password})


def test_registration_mails_a_link_that_verifies_the_address_once(api: Api) -> None:
    account = api.register()
    assert account.user["email_verified"] is False
    token = inbox().token(account.email, "verify-email")
    verified = _verify(api, token)
    assert verified.status_code == 200
    assert verified.json()["email_verified"] is True
    assert api.me(account.access).json()["email_verified"] is True
    again = _verify(api, token)
    assert again.status_code == 422
    assert field_messages(again) == INVALID_TOKEN


def test_a_login_sets_last_login_at(api: Api) -> None:
    account = api.register(login=False)
    assert account.user["last_login_at"] is None
    api.relogin(account)
    assert api.me(account.access).json()["last_login_at"] is not None


def test_a_new_address_is_unverified_and_gets_its_own_link(api: Api) -> None:
    account = api.register()
    assert _verify(api, inbox().token(account.email, "verify-email")).status_code == 200
    old_token_mail_count = len(inbox().to(account.email))
    new_address = unique_email("moved")
    changed = api.client.patch(ME, json={"email": new_address}, headers=account.headers)
    assert changed.status_code == 200
    assert changed.json()["email_verified"] is False
    token = inbox().token(new_address, "verify-email")
    assert len(inbox().to(account.email)) == old_token_mail_count
    assert _verify(api, token).json()["email"] == new_address


def test_a_link_for_an_address_the_account_no_longer_has_is_refused(api: Api) -> None:
    account = api.register()
    token = inbox().token(account.email, "verify-email")
    api.client.patch(ME, json={"email": unique_email("moved")}, headers=account.headers)
    assert field_messages(_verify(api, token)) == INVALID_TOKEN


def test_resend_mails_again_and_refuses_a_verified_address(api: Api) -> None:
    account = api.register()
    resent = api.client.post(VERIFICATION_EMAIL, headers=account.headers)
    assert resent.status_code == 202
    token = inbox().token(account.email, "verify-email", count=2)
    assert _verify(api, token).status_code == 200
    refused = api.client.post(VERIFICATION_EMAIL, headers=account.headers)
    assert refused.status_code == 409
    assert problem(refused)["detail"] == "The email address is already verified."


def test_a_password_reset_ends_every_session_and_works_once(api: Api) -> None:
    account = api.register()
    token = _reset_token(api, account)
    password = new_password()
    assert _confirm(api, token, password).status_code == 204
    assert api.me(account.access).status_code == 401
    assert api.refresh(account.refresh).status_code == 401
    assert api.login_response(account.email, account.password).status_code == 401
    assert api.login_response(account.email, password).status_code == 200
    assert field_messages(_confirm(api, token, new_password())) == INVALID_TOKEN


def test_a_reset_token_dies_when_the_password_changes(api: Api) -> None:
    account = api.register()
    token = _reset_token(api, account)
    changed = api.client.put(
        PASSWORD,
        json={"current_password": account.password, "new_password": new_password()},
        headers=account.headers,
    )
    assert changed.status_code == 204
    assert field_messages(_confirm(api, token, new_password())) == INVALID_TOKEN


def test_the_new_password_follows_the_rules(api: Api) -> None:
    account = api.register()
    token = _reset_token(api, account)
    assert field_messages(_confirm(api, token, "short")) == {
        "new_password": "Must be 8 to 128 characters."
    }
    assert _confirm(api, token, new_password()).status_code == 204


@pytest.mark.parametrize("token", ["nonsense", "a.b.c", ""])
def test_a_made_up_token_is_refused(api: Api, token: str) -> None:
    assert field_messages(_confirm(api, token, new_password())) == INVALID_TOKEN
    assert field_messages(_verify(api, token)) == INVALID_TOKEN


def test_an_unknown_address_gets_the_same_answer_and_no_mail(api: Api) -> None:
    ghost = unique_email("ghost")
    known = api.register(login=False)
    for address in (ghost, known.email):
        response = api.client.post(PASSWORD_RESET, json={"email": address})
        assert response.status_code == 202
        assert response.content == b""
    inbox().wait_for(known.email, count=2)  # registration, then reset
    time.sleep(0.5)
    assert inbox().to(ghost) == []


def test_reset_mails_per_address_are_capped_at_three_per_window(api: Api) -> None:
    account = api.register(login=False)
    for _ in range(5):
        assert api.client.post(PASSWORD_RESET, json={"email": account.email}).status_code == 202
    inbox().wait_for(account.email, count=4)  # registration, then three resets
    time.sleep(1)
    assert len(inbox().to(account.email)) == 4


def test_a_deactivated_account_gets_no_reset_mail(api: Api) -> None:
    account = api.register(login=False)
    deactivated = api.client.post(f"{USERS}/{account.id}/deactivate", headers=api.admin_headers())
    assert deactivated.status_code == 200
    assert api.client.post(PASSWORD_RESET, json={"email": account.email}).status_code == 202
    inbox().wait_for(account.email)  # the registration mail
    time.sleep(0.5)
    assert len(inbox().to(account.email)) == 1


def test_a_mail_server_that_is_down_fails_nothing(server_factory: ServerFactory) -> None:
    closed = free_port()
    with server_factory(extra_env={"SMTP_PORT": str(closed)}) as server:
        api = Api.of(server)
        started = time.monotonic()
        account = api.register(login=False)
        assert api.client.post(PASSWORD_RESET, json={"email": account.email}).status_code == 202
        assert time.monotonic() - started < 5


def test_required_verification_refuses_the_right_password_until_verified(
    server_factory: ServerFactory,
) -> None:
    with server_factory(extra_env={"REQUIRE_VERIFIED_EMAIL": "true"}) as server:
        api = Api.of(server)
        account = api.register(login=False)
        refused = api.login_response(account.email, account.password)
        assert refused.status_code == 403
        assert problem(refused)["detail"] == "The email address is not verified."
        wrong = api.login_response(account.email, "not the password")
        assert wrong.status_code == 401
        assert _verify(api, inbox().token(account.email, "verify-email")).status_code == 200
        assert api.login_response(account.email, account.password).status_code == 200
        # The operator named the bootstrap admin's address: it is verified, and can log in.
        admin = api.login_response(server.settings.admin_email, server.settings.admin_password)
        assert admin.status_code == 200


@pytest.mark.mode_independent
def test_an_expired_reset_token_is_refused(server_factory: ServerFactory) -> None:
    with server_factory(extra_env={"PASSWORD_RESET_MINUTES": "1"}) as server:
        api = Api.of(server)
        account = api.register(login=False)
        token = _reset_token(api, account)
        time.sleep(62)
        assert field_messages(_confirm(api, token, new_password())) == INVALID_TOKEN
        assert api.login_response(account.email, account.password).status_code == 200
