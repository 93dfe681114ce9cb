from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, login
from users.models import RefreshToken, User

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"bearer {token}")
    return api


def test_login_by_form_and_json(client: APIClient, make_user: Callable[..., User]) -> None:
    make_user()
    form = {
        "username": " ADA@example.com ",
        "password": PASSWORD,
        "grant_type": "password",
        "scope": "",
        "client_id": "x",
    }
    response = client.post(TOKEN, form)  # multipart is 415: only form-urlencoded and JSON
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    response = client.post(
        TOKEN,
        "username=ada%40example.com&password=correct+horse+battery",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 15 * 60
    assert login(client, "Ada@Example.com")["access_token"]


def test_an_api_login_sets_last_login(client: APIClient, make_user: Callable[..., User]) -> None:
    user = make_user()
    assert user.last_login is None
    login(client, user.email)
    user.refresh_from_db()
    assert user.last_login is not None


def test_grant_type_other_than_password_is_400(
    client: APIClient, make_user: Callable[..., User]
) -> None:
    make_user()
    response = client.post(
        TOKEN,
        "grant_type=client_credentials&username=ada%40example.com&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_failed_logins_share_one_body(client: APIClient, make_user: Callable[..., User]) -> None:
    make_user()
    make_user("off@example.com", is_active=False)
    bodies = {
        client.post(TOKEN, {"username": u, "password": p}, format="json").content
        for u, p in (
            ("nobody@example.com", PASSWORD),
            ("ada@example.com", "wrong-pass"),
            ("off@example.com", PASSWORD),
        )
    }
    assert len(bodies) == 1
    response = client.post(TOKEN, {"username": "x@example.com", "password": "y"}, format="json")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"] == "Incorrect email or password."


@override_settings(LOGIN_MAX_FAILURES=2, LOGIN_FAILURE_WINDOW_SECONDS=60)
def test_throttling_after_max_failures(client: APIClient, make_user: Callable[..., User]) -> None:
    make_user()
    for _ in range(2):
        bad = {"username": "Ada@example.com", "password": "wrong-pass"}
        assert client.post(TOKEN, bad, format="json").status_code == HTTPStatus.UNAUTHORIZED
    right = {"username": "ada@example.com ", "password": PASSWORD}
    response = client.post(TOKEN, right, format="json")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(response["Retry-After"]) <= 60
    other = APIClient(REMOTE_ADDR="10.0.0.9")
    assert other.post(TOKEN, right, format="json").status_code == HTTPStatus.OK


def test_refresh_rotates_and_reuse_revokes_the_family(
    client: APIClient, make_user: Callable[..., User]
) -> None:
    make_user()
    first = login(client, "ada@example.com")
    second = client.post(REFRESH, {"refresh_token": first["refresh_token"]}, format="json")
    assert second.status_code == HTTPStatus.OK
    reuse = client.post(REFRESH, {"refresh_token": first["refresh_token"]}, format="json")
    assert reuse.status_code == HTTPStatus.UNAUTHORIZED
    assert reuse["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    family = client.post(REFRESH, {"refresh_token": second.json()["refresh_token"]}, format="json")
    assert family.status_code == HTTPStatus.UNAUTHORIZED
    access = client.post(REFRESH, {"refresh_token": first["access_token"]}, format="json")
    assert access.status_code == HTTPStatus.UNAUTHORIZED


def test_a_refresh_token_is_not_an_access_token(
    user_client: tuple[APIClient, User, dict[str, Any]],
) -> None:
    _, _, pair = user_client
    assert bearer(pair["refresh_token"]).get(ME).status_code == HTTPStatus.UNAUTHORIZED


def test_logout_revokes_access_and_refresh(
    user_client: tuple[APIClient, User, dict[str, Any]], make_user: Callable[..., User]
) -> None:
    api, _, pair = user_client
    other = make_user("eve@example.com")
    other_pair = login(APIClient(), other.email)
    response = api.post(LOGOUT, {"refresh_token": other_pair["refresh_token"]}, format="json")
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert api.get(ME).status_code == HTTPStatus.UNAUTHORIZED
    assert not RefreshToken.objects.filter(user=other, revoked_at__isnull=False).exists()
    # The caller's own refresh token still works: only the presented access token went.
    ok = APIClient().post(REFRESH, {"refresh_token": pair["refresh_token"]}, format="json")
    assert ok.status_code == HTTPStatus.OK


def test_logout_with_own_refresh_token_and_no_body(make_user: Callable[..., User]) -> None:
    make_user()
    pair = login(APIClient(), "ada@example.com")
    api = bearer(pair["access_token"])
    body = {"refresh_token": pair["refresh_token"]}
    assert api.post(LOGOUT, body, format="json").status_code == HTTPStatus.NO_CONTENT
    again = APIClient().post(REFRESH, body, format="json")
    assert again.status_code == HTTPStatus.UNAUTHORIZED
    fresh = login(APIClient(), "ada@example.com")
    assert bearer(fresh["access_token"]).post(LOGOUT).status_code == HTTPStatus.NO_CONTENT


def test_password_change_revokes_every_earlier_token(
    user_client: tuple[APIClient, User, dict[str, Any]],
) -> None:
    api, _, pair = user_client
    other_session = login(APIClient(), "ada@example.com")
    wrong = api.put(
        f"{ME}/password",
        {"current_password": "nope", "new_password": "new-password-1"},
        format="json",
    )
    assert wrong.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert wrong.json()["errors"][0]["field"] == "current_password"
    body = {"current_password": PASSWORD, "new_password": "new-password-1"}
    assert api.put(f"{ME}/password", body, format="json").status_code == HTTPStatus.NO_CONTENT
    assert api.get(ME).status_code == HTTPStatus.UNAUTHORIZED
    assert bearer(other_session["access_token"]).get(ME).status_code == HTTPStatus.UNAUTHORIZED
    stale = APIClient().post(REFRESH, {"refresh_token": pair["refresh_token"]}, format="json")
    assert stale.status_code == HTTPStatus.UNAUTHORIZED
    fresh = login(APIClient(), "ada@example.com", "new-password-1")
    assert bearer(fresh["access_token"]).get(ME).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_bearer_header_variants(client: APIClient) -> None:
    assert client.get(ME)["WWW-Authenticate"] == "Bearer"
    for header in ("Basic abc", "Bearer", "Bearer a b", "bearer not.a.jwt"):
        response = client.get(ME, HTTP_AUTHORIZATION=header)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert response.json()["detail"] == "Invalid or expired token."
