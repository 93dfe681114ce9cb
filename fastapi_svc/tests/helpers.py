"""Small helpers shared by the tests."""

import uuid
from typing import Any

from httpx import AsyncClient, Response

PASSWORD = "correct horse battery"


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@Example.com"


async def register(client: AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"email": unique_email(), "password": PASSWORD, "name": "Ada"} | fields
    response = await client.post("/api/v1/users", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    return body
