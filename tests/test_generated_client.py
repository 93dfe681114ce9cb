"""A typed Python client generated from the contract drives each service.

`openapi-python-client` generates the client from `shared_contract/openapi.yaml`
once per run, into a temporary folder imported through `sys.path`. Its httpx
client carries the suite's response hook, so every answer it gets is checked
against the contract like any other in the suite.

The generator cannot merge a `const` with a typed property inside `allOf`
(`status: {const: 401}` over the Problem's integer `status`), so it leaves the
problem responses out of the generated code, with a warning for each: they come
back as `parsed=None` with their status code, and the hook still validates
their bodies. Every operation and every success response is generated; the
first test checks that. (This generator version also makes logout's optional
body a required argument; the flow below sends one anyway.)
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from contract import OPENAPI_PATH, get_contract
from helpers import Api, new_password, unique_email


@dataclass(frozen=True)
class Generated:
    """The generated package, imported under its own name."""

    package: str

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    def operation(self, tag: str, operation_id: str) -> ModuleType:
        # Modules are named after the operationId in snake case, grouped by tag.
        return self.module(f"api.{tag}.{re.sub(r'(?<!^)(?=[A-Z])', '_', operation_id).lower()}")

    @property
    def models(self) -> ModuleType:
        return self.module("models")

    def client(self, base_url: str, token: str | None = None) -> Any:
        """A generated client whose every response goes through the contract check."""
        options: dict[str, Any] = {
            "base_url": base_url,
            "timeout": httpx.Timeout(30.0),
            # Connections kept alive, as the suite's own clients (httpx's default).
            "httpx_args": {"event_hooks": {"response": [get_contract().check_response]}},
        }
        client = self.module("client")
        if token is None:
            return client.Client(**options)
        return client.AuthenticatedClient(token=token, **options)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("generated-client")
    package = f"user_api_client_{uuid.uuid4().hex[:8]}"
    config = root / "config.yaml"
    # No post hooks: the generator would otherwise run ruff over its output.
    config.write_text("post_hooks: []\n", encoding="utf-8")
    command = [
        str(Path(sys.executable).with_name("openapi-python-client")),
        "generate",
        "--path",
        str(OPENAPI_PATH),
        "--meta",
        "none",
        "--output-path",
        str(root / package),
        "--config",
        str(config),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield Generated(package)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]


def test_every_operation_and_success_response_is_generated(generated: Generated) -> None:
    for op in get_contract().operations():
        module = generated.operation(op.spec["tags"][0], op.operation_id)
        parse = inspect.getsource(module._parse_response)
        for status in op.spec["responses"]:
            if str(status).startswith("2"):
                assert f"response.status_code == {status}" in parse, (op.operation_id, status)


@pytest.mark.parametrize("login_body", ["form", "json"])
def test_register_login_me_refresh_logout(api: Api, generated: Generated, login_body: str) -> None:
    models = generated.models
    users = "users"
    email, password = unique_email("generated").upper(), new_password()
    anonymous = generated.client(api.base_url)

    register = generated.operation(users, "registerUser").sync_detailed(
        client=anonymous,
        body=models.UserCreate(email=email, password=password, name="Generated Client", age=41),
    )
    assert register.status_code == HTTPStatus.CREATED
    user = register.parsed
    assert isinstance(user, models.User)
    assert user.email == email.lower()
    assert register.headers["location"] == f"/api/v1/users/{user.id}"

    if login_body == "form":
        credentials = models.TokenForm(
            username=email, password=password, grant_type=models.TokenFormGrantType.PASSWORD
        )
    else:
        credentials = models.TokenRequest(
            username=email, password=password, grant_type=models.TokenRequestGrantType.PASSWORD
        )
    login = generated.operation("auth", "login").sync_detailed(client=anonymous, body=credentials)
    assert login.status_code == HTTPStatus.OK, login.content
    first = login.parsed
    assert isinstance(first, models.TokenPair)
    assert first.token_type == "bearer"

    get_me = generated.operation(users, "getCurrentUser")
    me = get_me.sync(client=generated.client(api.base_url, first.access_token))
    assert isinstance(me, models.User)
    assert (me.id, me.email, me.name, me.age) == (user.id, user.email, "Generated Client", 41)
    assert me.created_at.tzinfo is not None

    refresh = generated.operation("auth", "refreshTokens")
    rotated = refresh.sync_detailed(
        client=anonymous, body=models.RefreshRequest(refresh_token=first.refresh_token)
    )
    assert rotated.status_code == HTTPStatus.OK, rotated.content
    second = rotated.parsed
    assert isinstance(second, models.TokenPair)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    owner = get_me.sync(client=generated.client(api.base_url, second.access_token))
    assert isinstance(owner, models.User)
    assert owner.id == user.id

    logout = generated.operation("auth", "logout").sync_detailed(
        client=generated.client(api.base_url, second.access_token),
        body=models.LogoutRequest(refresh_token=second.refresh_token),
    )
    assert logout.status_code == HTTPStatus.NO_CONTENT

    # Logged out: the access token and the refresh token it named are dead, and
    # so is the refresh token rotated away before.
    after = get_me.sync_detailed(client=generated.client(api.base_url, second.access_token))
    assert after.status_code == HTTPStatus.UNAUTHORIZED
    assert after.headers["www-authenticate"].startswith("Bearer")
    for token in (second.refresh_token, first.refresh_token):
        again = refresh.sync_detailed(
            client=anonymous, body=models.RefreshRequest(refresh_token=token)
        )
        assert again.status_code == HTTPStatus.UNAUTHORIZED
