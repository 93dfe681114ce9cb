from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from rest_framework.test import APIClient

from users.models import User

URL = "/api/v1/users"
BODY = {"email": "Ada@Example.COM", "password": "password123", "name": "  Ada  ", "age": 36}


def fields(response: Any) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


@pytest.mark.django_db
def test_register_lowercases_trims_and_hashes(client: APIClient) -> None:
    response = client.post(URL, BODY, format="json")
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert response["Location"] == f"/api/v1/users/{body['id']}"
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada"
    assert body["created_at"].endswith("Z")
    assert set(body) == {
        *("id", "email", "name", "age", "is_active", "is_admin", "created_at"),
        *("email_verified", "last_login_at"),
    }
    user = User.objects.get(pk=body["id"])
    assert user.password != "password123"
    assert user.check_password("password123")


@pytest.mark.django_db
def test_same_email_in_another_case_is_409(client: APIClient) -> None:
    assert client.post(URL, BODY, format="json").status_code == HTTPStatus.CREATED
    response = client.post(URL, {**BODY, "email": "ADA@example.com"}, format="json")
    assert response.status_code == HTTPStatus.CONFLICT
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "A user with this email already exists."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"age": "36"}, "age"),
        ({"age": True}, "age"),
        ({"age": 36.5}, "age"),
        ({"age": 151}, "age"),
        ({"name": 123}, "name"),
        ({"name": " a "}, "name"),
        ({"email": ["a@example.com"]}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": " ada@example.com"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": " " * 10}, "password"),
        ({"name": "Ad\x00a"}, "name"),
        ({"is_admin": True}, "is_admin"),
    ],
)
def test_invalid_registration_is_422(client: APIClient, change: dict[str, Any], field: str) -> None:
    response = client.post(URL, {**BODY, **change}, format="json")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    body = response.json()
    assert body["title"] == "Unprocessable Content"
    assert field in fields(response)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_lone_surrogate_is_422(client: APIClient) -> None:
    raw = '{"email": "a@example.com", "password": "password123", "name": "Ad\\ud800a"}'
    response = client.post(URL, raw, content_type="application/json")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert fields(response) == {"name"}


@pytest.mark.django_db
def test_a_json_array_is_a_body_error(client: APIClient) -> None:
    response = client.post(URL, [BODY], format="json")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert fields(response) == {"body"}


@pytest.mark.django_db
def test_128_emoji_are_a_valid_password(client: APIClient) -> None:
    password = "\U0001f600" * 128
    response = client.post(URL, {**BODY, "password": password}, format="json")
    assert response.status_code == HTTPStatus.CREATED
    assert User.objects.get().check_password(password)


def test_ids_are_never_reused(make_user: Callable[..., User]) -> None:
    first = make_user("one@example.com")
    second = make_user("two@example.com")
    second_id = second.pk
    second.delete()
    third = make_user("three@example.com")
    assert third.pk > second_id > first.pk


def test_me_get_patch_delete(user_client: tuple[APIClient, User, dict[str, Any]]) -> None:
    api, user, _pair = user_client
    assert api.get(f"{URL}/me").json()["email"] == user.email
    response = api.patch(f"{URL}/me", {"name": "Ada L", "age": None}, format="json")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["name"] == "Ada L"
    assert response.json()["age"] is None
    assert api.patch(f"{URL}/me", {}, format="json").status_code == HTTPStatus.OK
    assert api.patch(f"{URL}/me", {"is_admin": True}, format="json").status_code == 422
    assert api.patch(f"{URL}/me", {"name": None}, format="json").status_code == 422
    assert api.delete(f"{URL}/me").status_code == HTTPStatus.NO_CONTENT
    assert api.get(f"{URL}/me").status_code == HTTPStatus.UNAUTHORIZED
    assert not User.objects.filter(pk=user.pk).exists()


def test_patch_me_to_a_taken_email_is_409(
    user_client: tuple[APIClient, User, dict[str, Any]], make_user: Callable[..., User]
) -> None:
    api, _, _ = user_client
    make_user("taken@example.com")
    response = api.patch(f"{URL}/me", {"email": "TAKEN@example.com"}, format="json")
    assert response.status_code == HTTPStatus.CONFLICT
