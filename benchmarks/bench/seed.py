"""Users, through the API: registration, then logins for the tokens the scenarios send."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

USERS = "/api/v1/users"
TOKEN = "/api/v1/auth/token"
PASSWORD = "benchmark password 1"
# Matches bench-0010 ... bench-0019: a page of ten out of the seeded users.
SEARCH = "bench-001"
# Enough requests in flight to keep both argon2-bound workers busy while seeding.
SEED_CONCURRENCY = 8


@dataclass(frozen=True)
class Account:
    email: str
    password: str

    def login_form(self) -> str:
        return urlencode(
            {"grant_type": "password", "username": self.email, "password": self.password}
        )


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str


def accounts(count: int) -> list[Account]:
    return [Account(f"bench-{i:04d}@example.com", PASSWORD) for i in range(count)]


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response


def register(client: httpx.Client, users: Sequence[Account]) -> None:
    def one(index: int) -> None:
        account = users[index]
        body = {"email": account.email, "password": account.password, "name": f"Bench {index}"}
        _expect(client.post(USERS, json=body), 201)

    with ThreadPoolExecutor(SEED_CONCURRENCY) as pool:
        list(pool.map(one, range(len(users))))


def login(client: httpx.Client, account: Account) -> Tokens:
    response = _expect(
        client.post(
            TOKEN,
            content=account.login_form(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        200,
    )
    body = response.json()
    return Tokens(access=body["access_token"], refresh=body["refresh_token"])


def login_all(client: httpx.Client, users: Sequence[Account]) -> list[Tokens]:
    with ThreadPoolExecutor(SEED_CONCURRENCY) as pool:
        return list(pool.map(lambda account: login(client, account), users))
