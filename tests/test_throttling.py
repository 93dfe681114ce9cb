"""Failed-login throttling per username and client address."""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from helpers import PASSWORD, TOKEN, Api, problem, unique_email

THROTTLED = "Too many failed login attempts. Try again later."
WINDOW = 60


def _fail(api: Api, username: str, times: int) -> list[int]:
    return [api.login_response(username, "wrong password!").status_code for _ in range(times)]


def _check_429(response: httpx.Response, window: int = WINDOW) -> int:
    assert response.status_code == 429
    assert problem(response)["detail"] == THROTTLED
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    return retry_after


def test_throttled_after_max_failures_even_with_the_right_password(api: Api) -> None:
    account = api.register(login=False)
    # Fresh connections each time: the failures land on both worker processes.
    assert _fail(api, account.email, api.max_failures) == [401] * api.max_failures
    _check_429(api.login_response(account.email, "wrong password!"))
    _check_429(api.login_response(account.email, account.password))
    # The username is trimmed and lower-cased for the key.
    _check_429(api.login_response(f"  {account.email.upper()}  ", account.password))
    as_json = api.client.post(TOKEN, json={"username": account.email, "password": account.password})
    _check_429(as_json)


def test_unknown_usernames_are_throttled_alike(api: Api) -> None:
    ghost = unique_email("ghost")
    assert _fail(api, ghost, api.max_failures) == [401] * api.max_failures
    _check_429(api.login_response(ghost, "anything at all"))


def test_other_usernames_are_not_affected(api: Api) -> None:
    victim = api.register(login=False)
    bystander = api.register(login=False)
    _fail(api, victim.email, api.max_failures)
    _check_429(api.login_response(victim.email, victim.password))
    assert api.login_response(bystander.email, bystander.password).status_code == 200


def test_successful_logins_neither_count_nor_reset(api: Api) -> None:
    account = api.register(login=False)
    for _ in range(api.max_failures + 2):
        assert api.login_response(account.email, account.password).status_code == 200
    _fail(api, account.email, api.max_failures - 1)
    assert api.login_response(account.email, account.password).status_code == 200
    assert _fail(api, account.email, 1) == [401]
    _check_429(api.login_response(account.email, account.password))


def test_retry_after_is_the_rest_of_the_window_rounded_up(api: Api) -> None:
    # The window opens at the first failure: whatever the server's clock read
    # in between, the seconds left lie between these two bounds, rounded up.
    account = api.register(login=False)
    sent_first = time.monotonic()
    _fail(api, account.email, 1)
    answered_first = time.monotonic()
    _fail(api, account.email, api.max_failures - 1)
    sent_last = time.monotonic()
    retry_after = _check_429(api.login_response(account.email, "wrong password!"))
    answered_last = time.monotonic()
    longest, shortest = answered_last - sent_first, sent_last - answered_first
    assert math.ceil(WINDOW - longest) <= retry_after <= math.ceil(WINDOW - shortest)


def test_throttled_attempts_do_not_extend_the_window(api: Api) -> None:
    account = api.register(login=False)
    _fail(api, account.email, api.max_failures)
    first = _check_429(api.login_response(account.email, "wrong password!"))
    for _ in range(3):
        later = _check_429(api.login_response(account.email, "wrong password!"))
        assert later <= first


def test_concurrent_failures_all_count(api: Api) -> None:
    # Exactly the limit, all at once over both workers: a lost update would
    # leave the count below it and let the next attempt through.
    account = api.register(login=False)
    attempts = api.max_failures

    def attempt(_: int) -> int:
        return api.login_response(account.email, "wrong password!").status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = list(pool.map(attempt, range(attempts)))
    assert set(statuses) <= {401, 429}
    _check_429(api.login_response(account.email, account.password))


def test_x_forwarded_for_is_not_trusted(api: Api) -> None:
    account = api.register(login=False)
    _fail(api, account.email, api.max_failures)
    spoofed = api.login_response(
        account.email, account.password, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    _check_429(spoofed)


def test_of_concurrent_attempts_at_most_the_limit_reach_the_password_check(api: Api) -> None:
    # The right password raced among wrong ones: a check-then-count would let far more
    # than the limit through, and the right one among them.
    account = api.register(login=False)
    attempts = 4 * api.max_failures
    passwords = ["wrong password!"] * (attempts - 1) + [account.password]

    def attempt(password: str) -> int:
        return api.login_response(account.email, password).status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = list(pool.map(attempt, passwords))
    checked = [status for status in statuses if status != 429]
    assert len(checked) <= api.max_failures, statuses
    assert set(statuses) <= {200, 401, 429}


def test_wrong_current_passwords_are_throttled_per_account(api: Api) -> None:
    account = api.register()
    headers = {"Authorization": f"Bearer {account.access}"}
    body = {"current_password": "not the password", "new_password": "a new password 1"}
    for _ in range(api.max_failures):
        assert api.client.put(PASSWORD, json=body, headers=headers).status_code == 422
    right = {"current_password": account.password, "new_password": "a new password 1"}
    _check_429(api.client.put(PASSWORD, json=right, headers=headers))
