"""What the tests share: clients, unique users, logins, token forging, races."""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
import jwt

from contract import get_contract

if TYPE_CHECKING:
    from servers import RunningServer, Settings

API = "/api/v1"
USERS = f"{API}/users"
ME = f"{API}/users/me"
# The services' JWT_ISSUER (the contract's default unless a run says otherwise).
ISSUER = os.environ.get("CONTRACT_JWT_ISSUER") or "user-api"
PASSWORD = f"{API}/users/me/password"
TOKEN = f"{API}/auth/token"
REFRESH = f"{API}/auth/refresh"
LOGOUT = f"{API}/auth/logout"
PASSWORD_RESET = f"{API}/auth/password-reset"
PASSWORD_RESET_CONFIRM = f"{API}/auth/password-reset/confirm"
VERIFY_EMAIL = f"{API}/auth/verify-email"
VERIFICATION_EMAIL = f"{API}/users/me/verification-email"
SESSIONS = f"{API}/users/me/sessions"

T = TypeVar("T")


def make_client(
    base_url: str, *, timeout: float = 30.0, validate: bool = True, keep_alive: bool = True
) -> httpx.Client:
    """A client whose every response is checked against the contract.

    It keeps connections alive, as real clients do. With `keep_alive=False`
    every request opens a new connection, so that repeated requests reach
    every worker process of the server.
    """
    hooks: dict[str, list[Callable[..., Any]]] = {"response": []}
    if validate:
        hooks["response"].append(get_contract().check_response)
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        follow_redirects=False,
        limits=httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0),
        event_hooks=hooks,
    )


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}@example.com"


def new_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Account:
    id: int
    email: str
    password: str
    name: str
    access: str = ""
    refresh: str = ""
    user: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access)


@dataclass
class Api:
    """One service under test, as seen over HTTP."""

    name: str
    base_url: str
    client: httpx.Client
    admin_email: str | None
    admin_password: str | None
    secret: str | None
    origin: str | None
    max_failures: int
    expires_in: int | None
    _admin_token: tuple[float, str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def with_settings(
        cls, *, name: str, base_url: str, client: httpx.Client, settings: Settings
    ) -> Api:
        """A server this suite started, whose settings it knows."""
        return cls(
            name=name,
            base_url=base_url,
            client=client,
            admin_email=settings.admin_email,
            admin_password=settings.admin_password,
            secret=settings.secret,
            origin=settings.origin,
            max_failures=settings.max_failures,
            expires_in=settings.access_minutes * 60,
        )

    @classmethod
    def of(cls, server: RunningServer, *, keep_alive: bool = True) -> Api:
        """A server a test started for itself, with a client of its own."""
        return cls.with_settings(
            name=server.service.name,
            base_url=server.base_url,
            client=make_client(server.base_url, keep_alive=keep_alive),
            settings=server.settings,
        )

    def register(
        self,
        *,
        email: str | None = None,
        password: str | None = None,
        name: str = "Test User",
        age: int | None = 30,
        login: bool = True,
    ) -> Account:
        email = email or unique_email()
        password = password or new_password()
        response = self.client.post(
            USERS, json={"email": email, "password": password, "name": name, "age": age}
        )
        assert response.status_code == 201, response.text
        user = response.json()
        account = Account(user["id"], user["email"], password, name, user=user)
        if login:
            pair = self.login(account.email, password)
            account.access, account.refresh = pair["access_token"], pair["refresh_token"]
            # As the login left it (`last_login_at`).
            account.user = self.me(account.access).json()
        return account

    def login_response(self, username: str, password: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(TOKEN, data={"username": username, "password": password}, **kwargs)

    def login(self, username: str, password: str) -> dict[str, Any]:
        response = self.login_response(username, password)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def relogin(self, account: Account) -> Account:
        pair = self.login(account.email, account.password)
        account.access, account.refresh = pair["access_token"], pair["refresh_token"]
        return account

    def admin_headers(self) -> dict[str, str]:
        """A fresh enough admin access token (renewed well before it expires)."""
        if not (self.admin_email and self.admin_password):
            import pytest

            pytest.skip("admin credentials unknown (set CONTRACT_ADMIN_EMAIL/PASSWORD)")
        with self._lock:
            now = time.monotonic()
            if self._admin_token is None or now - self._admin_token[0] > 240:
                pair = self.login(self.admin_email, self.admin_password)
                self._admin_token = (now, pair["access_token"])
            return bearer(self._admin_token[1])

    @functools.cached_property
    def across_workers(self) -> Api:
        """This service on a new connection per request: a check repeated a few
        times through it reaches every worker process, not only the one that
        holds the kept-alive connection."""
        client = make_client(self.base_url, keep_alive=False)
        return dataclasses.replace(self, client=client, _lock=threading.Lock())

    def me(self, token: str) -> httpx.Response:
        return self.client.get(ME, headers=bearer(token))

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.client.post(REFRESH, json={"refresh_token": refresh_token})

    def logout(self, access_token: str, refresh_token: str | None = None) -> httpx.Response:
        body = None if refresh_token is None else {"refresh_token": refresh_token}
        return self.client.post(LOGOUT, json=body, headers=bearer(access_token))

    def make_admin(self, account: Account) -> Account:
        response = self.client.patch(
            f"{USERS}/{account.id}", json={"is_admin": True}, headers=self.admin_headers()
        )
        assert response.status_code == 200, response.text
        return account


# -- tokens ----------------------------------------------------------------------


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def header(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_header(token))


def sign(payload: Mapping[str, Any], secret: str, *, algorithm: str = "HS256") -> str:
    return jwt.encode(dict(payload), secret, algorithm=algorithm)


def forge(token: str, secret: str, *, drop: Iterable[str] = (), **changes: Any) -> str:
    """Take a real token's claims, change or drop some, and sign it again."""
    payload = claims(token)
    for name in drop:
        payload.pop(name, None)
    payload.update(changes)
    return sign(payload, secret)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(token: str, alg: str = "none") -> str:
    """The token's claims with `alg` in the header and no signature."""
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims(token)).encode())
    return f"{head}.{body}."


# -- concurrency -----------------------------------------------------------------


def send_raw(api: Api, head: bytes, body: bytes = b"", *, hang_up: bool = False) -> bytes:
    """Send raw bytes on a new connection: the answer's status line (b"" on hang-up)."""
    url = urlsplit(api.base_url)
    address = (url.hostname or "127.0.0.1", url.port or 80)
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head + body)
        return b"" if hang_up else sock.makefile("rb").readline()


def status_line_code(line: bytes) -> int:
    return int(line.split()[1])


def race(count: int, action: Callable[[int], T]) -> list[T]:
    """Run `action(i)` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait(timeout=30)
        return action(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass (a bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def log_entry(server: RunningServer, request_id: str, *, timeout: float = 5) -> dict[str, Any]:
    """The server's JSON log line for one request, once the server has written it."""

    def entry() -> dict[str, Any] | None:
        for line in server.stdout_lines():
            if request_id in line:
                parsed: dict[str, Any] = json.loads(line)
                return parsed
        return None

    assert wait_until(lambda: entry() is not None, timeout=timeout), server.logs()
    record = entry()
    assert record is not None
    return record


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def field_messages(response: httpx.Response) -> dict[str, str]:
    """A 422's `errors` as {field: message}."""
    assert response.status_code == 422, response.text
    return {entry["field"]: entry["message"] for entry in problem(response)["errors"]}


def error_fields(response: httpx.Response) -> set[str]:
    return {str(e["field"]) for e in problem(response).get("errors", [])}


def raw_json(
    client: httpx.Client, method: str, path: str, body: object, **kwargs: Any
) -> httpx.Response:
    """Send `body` as JSON with every non-ASCII character escaped, so lone
    surrogates (`\\ud800`) reach the server as JSON escapes."""
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    content = json.dumps(body, ensure_ascii=True).encode()
    return client.request(method, path, content=content, headers=headers, **kwargs)
