"""Which service the suite checks, and how it is reached.

* `--service fastapi|django|flask|all` (default `all`): start each service as a
  real server (one per service for the whole run) and run every test once per
  service.
* `--base-url URL`: check a server someone else runs. Admin credentials come
  from `CONTRACT_ADMIN_EMAIL`/`CONTRACT_ADMIN_PASSWORD`, the signing secret
  (when known) from `CONTRACT_JWT_SECRET_KEY`. Tests that start their own
  server or forge tokens without a secret are skipped.
* `--database sqlite|postgres` and `--redis URL` choose what the started
  servers run on.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

import servers
from helpers import Account, Api, make_client
from servers import SERVICES, RunningServer, Settings

EXTERNAL = "external"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract", "User API contract suite")
    group.addoption(
        "--service",
        choices=[*SERVICES, "all"],
        default="all",
        help="which service to start and check (default: all)",
    )
    group.addoption("--base-url", default=None, help="check an already running service")
    group.addoption(
        "--database",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="database of the started servers (postgres: CONTRACT_POSTGRES_URL)",
    )
    group.addoption("--redis", default=None, help="REDIS_URL for the started servers")
    group.addoption(
        "--fuzz-examples",
        type=int,
        default=int(os.environ.get("CONTRACT_FUZZ_EXAMPLES", "5")),
        help="schemathesis examples per operation in test_fuzz.py "
        "(default: CONTRACT_FUZZ_EXAMPLES or 5)",
    )


def selected_services(config: pytest.Config) -> list[str]:
    if config.getoption("--base-url"):
        return [EXTERNAL]
    choice = str(config.getoption("--service"))
    return list(SERVICES) if choice == "all" else [choice]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Markers from the fixtures a test uses, so a run can select or leave them out
    # (`-m "not own_server"`).
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "server_factory" in names:
            item.add_marker(pytest.mark.own_server)
        if "secret" in names:
            item.add_marker(pytest.mark.forges_tokens)
        # `@pytest.mark.services(...)`: a property of some servers, not of the contract.
        only = item.get_closest_marker("services")
        service = getattr(getattr(item, "callspec", None), "params", {}).get("service_name")
        (dropped if only and service not in only.args else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "service_name" in metafunc.fixturenames:
        metafunc.parametrize("service_name", selected_services(metafunc.config), scope="session")


@dataclass
class Target:
    """The service under test for this part of the run."""

    name: str
    base_url: str
    database: str
    redis_url: str | None
    settings: Settings | None
    server: RunningServer | None


@pytest.fixture(scope="session")
def redis_url(pytestconfig: pytest.Config) -> str | None:
    url = pytestconfig.getoption("--redis")
    if not url:
        return None
    # The suite owns this Redis database: start from an empty one.
    client = redis.Redis.from_url(str(url))
    client.flushdb()
    client.close()
    return str(url)


@pytest.fixture(scope="session")
def database_kind(pytestconfig: pytest.Config) -> str:
    kind = str(pytestconfig.getoption("--database"))
    if kind == "postgres" and not servers.postgres_available():
        pytest.exit(f"PostgreSQL is not reachable at {servers.postgres_admin_url()}", 2)
    return kind


@pytest.fixture(scope="session")
def target(
    service_name: str,
    pytestconfig: pytest.Config,
    database_kind: str,
    redis_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Target]:
    if service_name == EXTERNAL:
        yield Target(
            name=EXTERNAL,
            base_url=str(pytestconfig.getoption("--base-url")).rstrip("/"),
            database="unknown",
            redis_url=None,
            settings=None,
            server=None,
        )
        return
    spec = SERVICES[service_name]
    if not spec.is_installed():
        if pytestconfig.getoption("--service") == "all":
            pytest.skip(f"{spec.folder}/.venv does not exist")
        pytest.fail(f"{spec.folder}/.venv does not exist: install the service first")
    settings = Settings()
    log_dir = tmp_path_factory.mktemp(f"{service_name}-shared")
    with (
        servers.fresh_database(database_kind) as database_url,
        servers.run_server(
            spec,
            database_url=database_url,
            settings=settings,
            redis_url=redis_url,
            log_dir=log_dir,
        ) as server,
    ):
        yield Target(
            name=service_name,
            base_url=server.base_url,
            database=database_kind,
            redis_url=redis_url,
            settings=settings,
            server=server,
        )


@pytest.fixture(scope="session")
def api(target: Target) -> Iterator[Api]:
    settings = target.settings
    with make_client(target.base_url) as client:
        if settings is None:
            yield Api(
                name=target.name,
                base_url=target.base_url,
                client=client,
                admin_email=os.environ.get("CONTRACT_ADMIN_EMAIL"),
                admin_password=os.environ.get("CONTRACT_ADMIN_PASSWORD"),
                secret=os.environ.get("CONTRACT_JWT_SECRET_KEY") or None,
                origin=os.environ.get("CONTRACT_CORS_ORIGIN") or None,
                max_failures=int(os.environ.get("CONTRACT_LOGIN_MAX_FAILURES", "5")),
                expires_in=None,
            )
        else:
            yield Api.with_settings(
                name=target.name, base_url=target.base_url, client=client, settings=settings
            )


@pytest.fixture
def secret(api: Api) -> str:
    if not api.secret:
        pytest.skip("the signing secret is unknown (set CONTRACT_JWT_SECRET_KEY)")
    return api.secret


@pytest.fixture
def admin(api: Api) -> dict[str, str]:
    """Authorization headers of the bootstrap admin."""
    return api.admin_headers()


@pytest.fixture
def server(target: Target) -> RunningServer:
    """The shared server process the suite started (not available with --base-url)."""
    if target.server is None:
        pytest.skip("needs a server started by the suite (not with --base-url)")
    return target.server


ServerFactory = Callable[..., contextlib.AbstractContextManager[RunningServer]]


@pytest.fixture
def server_factory(target: Target, tmp_path: Path) -> ServerFactory:
    """Start another server of the service under test, with its own settings.

    Keyword arguments: `settings`, `extra_env`, `database_url` (default: a fresh
    database of the run's kind), `redis_url` (default: the run's),
    `check_exit`.
    """
    if target.server is None:
        pytest.skip("starts its own server (not with --base-url)")
    spec = SERVICES[target.name]

    @contextlib.contextmanager
    def start(**kwargs: Any) -> Iterator[RunningServer]:
        kwargs.setdefault("redis_url", target.redis_url)
        kwargs.setdefault("log_dir", Path(tempfile.mkdtemp(prefix="server-", dir=tmp_path)))
        database_url = kwargs.pop("database_url", None)
        with contextlib.ExitStack() as stack:
            if database_url is None:
                database_url = stack.enter_context(servers.fresh_database(target.database))
            yield stack.enter_context(servers.run_server(spec, database_url=database_url, **kwargs))

    return start


@pytest.fixture(scope="session")
def reader(api: Api) -> Account:
    """One logged-in user shared by the tests that only read or get rejected.

    Password hashing dominates the suite's run time; tests that never change
    their user share this one instead of registering their own.
    """
    return api.register(name="Shared Reader")
