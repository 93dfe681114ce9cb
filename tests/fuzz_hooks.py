"""Schemathesis hooks for `test_fuzz.py`, loaded through `SCHEMATHESIS_HOOKS`.

The run's account comes from `CONTRACT_FUZZ_*` variables set by the test:

* every operation is sent with one access token of that account, fetched
  through the token endpoint and renewed before it expires;
* logout, password change and self-delete would end that token's life, so
  each of their requests gets a token of a user registered (and, in the admin
  run, promoted) just for it;
* users that existed before the run (ids up to `CONTRACT_FUZZ_PROTECTED_MAX_ID`:
  the bootstrap admin, the run's own account, the other tests' users) are never
  the target of an admin operation: such an id is swapped for one that does not
  exist, so the admin operations act only on the users the run creates.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from typing import Any

import httpx
import schemathesis

TOKEN = "/api/v1/auth/token"
USERS = "/api/v1/users"
ME = "/api/v1/users/me"
TOKEN_ENDING = ["logout", "changePassword", "deleteCurrentUser", "deleteSessions"]
# A well-formed id that no user has: far beyond anything the run creates.
ABSENT_ID = 2**62
# Well within the services' access token lifetime (minutes).
TOKEN_RENEWAL_SECONDS = 120

Case = schemathesis.Case[Any]


def setting(name: str) -> str:
    return os.environ[f"CONTRACT_FUZZ_{name}"]


# The run's account may change its own email (`PATCH /users/me`): its next
# login uses the address the service last answered with.
account_email = {"current": ""}
# Users registered during the run: admin operations may act on them.
created_ids: set[int] = set()


def run_email() -> str:
    return account_email["current"] or setting("EMAIL")


def client() -> httpx.Client:
    return httpx.Client(base_url=setting("BASE_URL"), timeout=30.0)


def login(http: httpx.Client, email: str, password: str) -> str:
    response = http.post(TOKEN, data={"username": email, "password": password})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_bearer(case: Case, token: str) -> None:
    case.headers["Authorization"] = f"Bearer {token}"


# The run's own token for promoting disposable admins: one login, renewed
# like the auth provider's (argon2 makes every login cost).
token_cache: dict[str, tuple[float, str]] = {}


def run_token(http: httpx.Client) -> str:
    cached = token_cache.get("run")
    if cached is None or time.monotonic() - cached[0] > TOKEN_RENEWAL_SECONDS:
        cached = (time.monotonic(), login(http, run_email(), setting("PASSWORD")))
        token_cache["run"] = cached
    return cached[1]


@schemathesis.auth(refresh_interval=TOKEN_RENEWAL_SECONDS).skip_for(operation_id=TOKEN_ENDING)
class RunAccount:
    """The run's account (an ordinary user or an admin)."""

    def get(self, case: Case, ctx: schemathesis.AuthContext) -> str:
        with client() as http:
            return login(http, run_email(), setting("PASSWORD"))

    def set(self, case: Case, data: str, ctx: schemathesis.AuthContext) -> None:
        set_bearer(case, data)


# No caching: every request of these operations gets an account of its own.
@schemathesis.auth(refresh_interval=None).apply_to(operation_id=TOKEN_ENDING)
class DisposableAccount:
    """A fresh account of the run's role, for an operation that ends its token."""

    def get(self, case: Case, ctx: schemathesis.AuthContext) -> str:
        email = f"fuzz-{uuid.uuid4().hex[:16]}@example.com"
        password = "pw-" + secrets.token_urlsafe(12)
        with client() as http:
            created = http.post(USERS, json={"email": email, "password": password, "name": "Fuzz"})
            created.raise_for_status()
            if setting("ROLE") == "admin":
                admin = run_token(http)
                promoted = http.patch(
                    f"{USERS}/{created.json()['id']}",
                    json={"is_admin": True},
                    headers=bearer(admin),
                )
                promoted.raise_for_status()
            return login(http, email, password)

    def set(self, case: Case, data: str, ctx: schemathesis.AuthContext) -> None:
        set_bearer(case, data)


def integral_floats_as_ints(value: Any) -> Any:
    """`36.0` as `36`, anywhere in a JSON value."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral_floats_as_ints(item) for item in value]
    return value


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Case, kwargs: Any) -> None:
    # JSON Schema counts `36.0` as an integer, so it is generated as valid data;
    # the contract's strict types (shared_contract/README.md) reject it with 422,
    # as the suite's own tests check. Send such numbers as the integers they
    # stand for. No other value changes, so data invalid for any other reason
    # stays invalid.
    if isinstance(case.body, dict | list):
        case.body = integral_floats_as_ints(case.body)
    if not case.path_parameters or "id" not in case.path_parameters:
        return
    # What reaches the URL is the value's text: an int, or a generated string of digits.
    text = str(case.path_parameters["id"])
    if not (text.isascii() and text.isdigit()):
        return
    user_id = int(text)
    if 1 <= user_id <= int(setting("PROTECTED_MAX_ID")) and user_id not in created_ids:
        case.path_parameters = {**case.path_parameters, "id": ABSENT_ID + user_id}


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: Case, response: schemathesis.Response
) -> None:
    if response.status_code == 201 and (case.method.upper(), case.path) == ("POST", USERS):
        created_ids.add(int(response.json()["id"]))
    if (case.method.upper(), case.path) == ("PATCH", ME) and response.status_code == 200:
        account_email["current"] = response.json()["email"]
