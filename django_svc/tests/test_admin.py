from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from rest_framework.test import APIClient

from tests.conftest import login
from users.models import User

URL = "/api/v1/users"


def test_non_admin_gets_403_before_lookup(
    user_client: tuple[APIClient, User, dict[str, Any]],
) -> None:
    api, user, _ = user_client
    for path in (URL, f"{URL}/{user.pk}", f"{URL}/999999"):
        response = api.get(path)
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert response.json()["detail"] == "Admin privileges required."


def test_list_paginates_with_absolute_links(
    admin_client: tuple[APIClient, User], make_user: Callable[..., User]
) -> None:
    api, _ = admin_client
    for index in range(5):
        make_user(f"user{index}@example.com", name=f"User {index}")
    page = api.get(URL, {"limit": "2", "offset": "1", "search": "USER"}).json()
    assert page["count"] == 5
    assert [u["email"] for u in page["results"]] == ["user1@example.com", "user2@example.com"]
    # DRF's LimitOffsetPagination: the first page's link leaves `offset` out.
    assert page["next"] == "http://testserver/api/v1/users?limit=2&offset=3&search=USER"
    assert page["previous"] == "http://testserver/api/v1/users?limit=2&search=USER"
    last = api.get(URL, {"limit": "2", "offset": "4", "search": "user"}).json()
    assert last["next"] is None


def test_list_query_is_validated(admin_client: tuple[APIClient, User]) -> None:
    api, _ = admin_client
    for params in (
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "2.0"},
        {"offset": "-1"},
        {"is_active": "yes"},
    ):
        response = api.get(URL, params)
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, params
    assert api.get(URL, {"unknown": "x"}).status_code == HTTPStatus.OK


def test_deactivate_ends_every_session_and_activate_allows_a_new_login(
    admin_client: tuple[APIClient, User], user_client: tuple[APIClient, User, dict[str, Any]]
) -> None:
    api, _ = admin_client
    user_api, user, _ = user_client
    response = api.post(f"{URL}/{user.pk}/deactivate")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["is_active"] is False
    assert api.post(f"{URL}/{user.pk}/deactivate").status_code == HTTPStatus.OK
    assert user_api.get(f"{URL}/me").status_code == HTTPStatus.UNAUTHORIZED
    assert api.post(f"{URL}/{user.pk}/activate").json()["is_active"] is True
    assert user_api.get(f"{URL}/me").status_code == HTTPStatus.UNAUTHORIZED
    pair = login(user_api, user.email)
    user_api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    assert user_api.get(f"{URL}/me").status_code == HTTPStatus.OK


def test_demoted_admin_loses_rights_at_once(
    admin_client: tuple[APIClient, User], make_user: Callable[..., User]
) -> None:
    api, admin = admin_client
    other = make_user("other.admin@example.com", is_admin=True)
    other_api = APIClient()
    pair = login(other_api, other.email)
    other_api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    response = other_api.patch(f"{URL}/{admin.pk}", {"is_admin": False}, format="json")
    assert response.status_code == HTTPStatus.OK
    assert api.get(URL).status_code == HTTPStatus.FORBIDDEN


def test_an_admin_cannot_demote_deactivate_or_delete_themselves(
    admin_client: tuple[APIClient, User],
) -> None:
    api, admin = admin_client
    assert api.patch(f"{URL}/{admin.pk}", {"is_admin": False}, format="json").status_code == 409
    assert api.post(f"{URL}/{admin.pk}/deactivate").status_code == 409
    assert api.delete(f"{URL}/{admin.pk}").status_code == 409
    # The last active admin cannot delete their own account either.
    assert api.delete(f"{URL}/me").status_code == 409


def test_get_patch_delete_and_404(
    admin_client: tuple[APIClient, User], make_user: Callable[..., User]
) -> None:
    api, _ = admin_client
    user = make_user("x@example.com")
    assert api.get(f"{URL}/{user.pk}").json()["email"] == "x@example.com"
    assert api.patch(f"{URL}/{user.pk}", {"is_admin": 1}, format="json").status_code == 422
    assert api.delete(f"{URL}/{user.pk}").status_code == HTTPStatus.NO_CONTENT
    for path in (f"{URL}/{user.pk}", f"{URL}/0", f"{URL}/01", f"{URL}/{2**63}", f"{URL}/abc"):
        assert api.get(path).status_code == HTTPStatus.NOT_FOUND, path
