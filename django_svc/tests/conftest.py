from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from users.models import User

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _fast_hasher(settings: Any) -> None:
    # Argon2 is the production hasher; tests only need a cheap one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(email: str = "ada@example.com", *, is_admin: bool = False, **extra: Any) -> User:
        extra.setdefault("name", "Ada")
        return User.objects.create_user(email, PASSWORD, is_admin=is_admin, **extra)

    return make


def login(client: APIClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(
        "/api/v1/auth/token", {"username": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return dict(response.json())


@pytest.fixture
def user_client(make_user: Callable[..., User]) -> tuple[APIClient, User, dict[str, Any]]:
    user = make_user()
    api = APIClient()
    pair = login(api, user.email)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    return api, user, pair


@pytest.fixture
def admin_client(make_user: Callable[..., User]) -> tuple[APIClient, User]:
    admin = make_user("root@example.com", is_admin=True, name="Root")
    api = APIClient()
    pair = login(api, admin.email)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    return api, admin
