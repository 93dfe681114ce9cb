"""The workload: what each scenario requests, and the wrk arguments it needs for a run."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bench import seed

USERS_ME = "/api/v1/users/me"
# Login is CPU-bound (argon2): two requests in flight per core keep every core busy,
# and more would only queue, so its latency would measure the queue.
LOGIN_CONNECTIONS = 2 * len(os.sched_getaffinity(0))
# `me` again at these many connections: where async should pull ahead, if anywhere.
CONCURRENCY_SWEEP = (64, 256)


@dataclass
class Context:
    """What the scenarios of one server share: seeded accounts and their tokens."""

    client: httpx.Client | None = None
    connections: int = 1
    accounts: list[seed.Account] = field(default_factory=list)
    tokens: list[seed.Tokens] = field(default_factory=list)
    admin: seed.Tokens | None = None

    def api(self) -> httpx.Client:
        if self.client is None:
            raise RuntimeError("this scenario needs a seeded service")
        return self.client


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: str
    script: str
    # The wrk arguments, made anew before every run: a refresh chain needs unspent tokens.
    args: Callable[[Context], list[str]] = lambda _context: []
    max_connections: int | None = None
    fixed_connections: int | None = None

    def connections(self, wanted: int) -> int:
        if self.fixed_connections is not None:
            return self.fixed_connections
        return min(wanted, self.max_connections or wanted)


def _access_tokens(context: Context) -> list[str]:
    return [tokens.access for tokens in context.tokens]


def _admin_token(context: Context) -> list[str]:
    if context.admin is None:
        raise RuntimeError("no admin token")
    return [context.admin.access]


def _fresh_refresh_tokens(context: Context) -> list[str]:
    # One login per wrk thread: each thread rotates its own family.
    starters = [context.accounts[i % len(context.accounts)] for i in range(context.connections)]
    return [tokens.refresh for tokens in seed.login_all(context.api(), starters)]


def _login_forms(context: Context) -> list[str]:
    return [account.login_form() for account in context.accounts]


BARE = Scenario("bare", "bare JSON endpoint, minimal app", "/health", "get")
# The same minimal app reading one user (the bootstrap admin, the first row) by primary
# key: what the framework and its ORM allow a request that reads the database once.
BARE_READ = Scenario("bare-read", "bare app + one primary-key read", "/users/1", "get")
# Django only: the same read through a DRF `RetrieveAPIView` (no authentication), the price
# of DRF's view, serializer and renderer, which every endpoint of the Django service pays.
BARE_DRF_READ = Scenario(
    "bare-drf-read", "bare DRF view + one primary-key read", "/drf/users/1", "get"
)
DRF_SERVICES = ("django",)
SERVICE_SCENARIOS = (
    Scenario("health", "GET /health", "/health", "get"),
    Scenario("me", "GET /api/v1/users/me (bearer)", USERS_ME, "get", _access_tokens),
    *(
        Scenario(
            f"me-{n}",
            f"GET /api/v1/users/me (bearer), {n} connections",
            USERS_ME,
            "get",
            _access_tokens,
            fixed_connections=n,
        )
        for n in CONCURRENCY_SWEEP
    ),
    Scenario(
        "list",
        f"GET /api/v1/users?search={seed.SEARCH} (admin)",
        f"/api/v1/users?search={seed.SEARCH}&limit=20",
        "get",
        _admin_token,
    ),
    Scenario(
        "refresh",
        "POST /api/v1/auth/refresh (rotation)",
        "/api/v1/auth/refresh",
        "refresh",
        _fresh_refresh_tokens,
    ),
    Scenario(
        "login",
        "POST /api/v1/auth/token (argon2)",
        "/api/v1/auth/token",
        "login",
        _login_forms,
        max_connections=LOGIN_CONNECTIONS,
    ),
)


@dataclass(frozen=True)
class ServerVariant:
    """The same service under another server, run from the service's folder and venv."""

    scenario: Scenario
    command: tuple[str, ...]  # with {port} and {workers}

    def argv(self, *, port: int, workers: int) -> tuple[str, ...]:
        return tuple(arg.format(port=port, workers=workers) for arg in self.command)


def _me_on(name: str, server: str) -> Scenario:
    return Scenario(
        f"me-{name}", f"GET /api/v1/users/me (bearer), {server}", USERS_ME, "get", _access_tokens
    )


GRANIAN = (".venv/bin/granian", "--host", "127.0.0.1", "--port", "{port}", "--workers", "{workers}")
# A WSGI app runs in Granian's blocking threads: as many per worker as gunicorn's gthread has.
GRANIAN_WSGI = (*GRANIAN, "--interface", "wsgi", "--blocking-threads", "4")
UVICORN = (".venv/bin/uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--workers", "{workers}")
# `me` again on each other server the framework runs on, with as many workers.
SERVER_VARIANTS = {
    "fastapi": (
        ServerVariant(
            _me_on("granian", "Granian"), (*GRANIAN, "--interface", "asgi", "app.main:app")
        ),
    ),
    "django": (
        ServerVariant(
            _me_on("uvicorn", "uvicorn (ASGI)"),
            (*UVICORN, "--no-access-log", "config.asgi:application"),
        ),
        ServerVariant(_me_on("granian", "Granian"), (*GRANIAN_WSGI, "config.wsgi:application")),
        ServerVariant(
            _me_on("granian-asgi", "Granian (ASGI)"),
            (*GRANIAN, "--interface", "asgi", "config.asgi:application"),
        ),
    ),
    "flask": (
        ServerVariant(_me_on("granian", "Granian"), (*GRANIAN_WSGI, "--factory", "app:create_app")),
    ),
}
VARIANT_SCENARIOS = {
    variant.scenario.name: variant.scenario
    for variants in SERVER_VARIANTS.values()
    for variant in variants
}
ALL = {
    scenario.name: scenario
    for scenario in (
        BARE,
        BARE_READ,
        BARE_DRF_READ,
        *SERVICE_SCENARIOS,
        *VARIANT_SCENARIOS.values(),
    )
}
