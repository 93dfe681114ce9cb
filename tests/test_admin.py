"""Admin endpoints: access rules, user management, list filters and pagination."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from helpers import ME, USERS, Api, bearer, error_fields, problem, unique_email

ADMIN_ONLY = "Admin privileges required."


def _admin_calls(user_id: int) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("GET", USERS, None),
        ("GET", f"{USERS}/{user_id}", None),
        ("PATCH", f"{USERS}/{user_id}", {"name": "Hacked"}),
        ("DELETE", f"{USERS}/{user_id}", None),
        ("POST", f"{USERS}/{user_id}/activate", None),
        ("POST", f"{USERS}/{user_id}/deactivate", None),
    ]


def test_non_admins_get_403_everywhere_own_id_included(api: Api) -> None:
    account = api.register()
    for target in (account.id, 9_000_000_000_000):
        for method, path, body in _admin_calls(target):
            response = api.client.request(method, path, json=body, headers=account.headers)
            assert response.status_code == 403, (method, path)
            assert problem(response)["detail"] == ADMIN_ONLY
    assert api.me(account.access).json()["name"] == account.name


def test_admin_endpoints_need_a_token(api: Api) -> None:
    for method, path, body in _admin_calls(1):
        response = api.client.request(method, path, json=body)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert problem(response)["detail"] == "Not authenticated."


def test_get_user(api: Api, admin: dict[str, str]) -> None:
    account = api.register()
    response = api.client.get(f"{USERS}/{account.id}", headers=admin)
    assert response.status_code == 200
    assert response.json() == account.user


def test_unknown_user_is_404(api: Api, admin: dict[str, str]) -> None:
    missing = 9_000_000_000_000_000
    for method, path, body in _admin_calls(missing)[1:]:
        response = api.client.request(method, path, json=body, headers=admin)
        assert response.status_code == 404, (method, path)


def test_admin_patch(api: Api, admin: dict[str, str]) -> None:
    account = api.register()
    other = api.register()
    path = f"{USERS}/{account.id}"
    response = api.client.patch(
        path, json={"name": "Renamed", "age": 77, "email": unique_email("ADMINSET")}, headers=admin
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["age"] == 77
    assert body["email"] == body["email"].lower()
    taken = api.client.patch(path, json={"email": other.email}, headers=admin)
    assert taken.status_code == 409
    for bad in ({"is_active": False}, {"password": "long enough"}, {"is_admin": "yes"}, {"id": 3}):
        rejected = api.client.patch(path, json=bad, headers=admin)
        assert rejected.status_code == 422, bad
        assert error_fields(rejected) & set(bad)
    assert api.client.patch(path, json={}, headers=admin).json() == body


def test_promote_and_demote(api: Api, admin: dict[str, str]) -> None:
    account = api.register()
    path = f"{USERS}/{account.id}"
    promoted = api.client.patch(path, json={"is_admin": True}, headers=admin)
    assert promoted.json()["is_admin"] is True
    # The same token now has admin rights: they are read from the database.
    assert api.client.get(USERS, headers=account.headers).status_code == 200
    demoted = api.client.patch(path, json={"is_admin": False}, headers=admin)
    assert demoted.json()["is_admin"] is False
    for _ in range(4):
        response = api.across_workers.client.get(USERS, headers=account.headers)
        assert response.status_code == 403
    assert api.me(account.access).status_code == 200


def test_activate_and_deactivate_are_idempotent(api: Api, admin: dict[str, str]) -> None:
    account = api.register()
    for _ in range(2):
        response = api.client.post(f"{USERS}/{account.id}/deactivate", headers=admin)
        assert response.status_code == 200
        assert response.json()["is_active"] is False
    assert api.me(account.access).status_code == 401
    assert api.login_response(account.email, account.password).status_code == 401
    for _ in range(2):
        response = api.client.post(f"{USERS}/{account.id}/activate", headers=admin)
        assert response.status_code == 200
        assert response.json()["is_active"] is True
    assert api.login_response(account.email, account.password).status_code == 200


def test_admin_delete(api: Api, admin: dict[str, str]) -> None:
    account = api.register()
    response = api.client.delete(f"{USERS}/{account.id}", headers=admin)
    assert response.status_code == 204
    assert response.content == b""
    assert api.client.get(f"{USERS}/{account.id}", headers=admin).status_code == 404
    assert api.client.delete(f"{USERS}/{account.id}", headers=admin).status_code == 404
    assert api.me(account.access).status_code == 401
    assert api.refresh(account.refresh).status_code == 401
    assert api.register(email=account.email).id > account.id


def test_deleted_admin_loses_access(api: Api, admin: dict[str, str]) -> None:
    account = api.make_admin(api.register())
    assert api.client.delete(ME, headers=account.headers).status_code == 204
    assert api.client.get(USERS, headers=account.headers).status_code == 401


# -- list --------------------------------------------------------------------------


def _tagged_users(api: Api, count: int) -> tuple[str, list[int]]:
    tag = uuid.uuid4().hex[:12]
    ids = [api.register(email=f"list-{tag}-{i}@example.com", login=False).id for i in range(count)]
    return tag, ids


def _query(url: str) -> dict[str, str]:
    """A page link's parameters; a link with no `offset` means 0 (DRF's pagination omits it)."""
    query = {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}
    return {"offset": "0", **query}


def test_list_default_page(api: Api, admin: dict[str, str]) -> None:
    response = api.client.get(USERS, headers=admin)
    assert response.status_code == 200
    page = response.json()
    assert len(page["results"]) <= 20
    assert page["previous"] is None
    ids = [user["id"] for user in page["results"]]
    assert ids == sorted(ids)
    if page["count"] > 20:
        query = _query(page["next"])
        assert (query["limit"], query["offset"]) == ("20", "20")
    else:
        assert page["next"] is None


def test_list_search_and_pagination(api: Api, admin: dict[str, str]) -> None:
    tag, ids = _tagged_users(api, 5)
    first = api.client.get(USERS, params={"search": tag.upper(), "limit": 2}, headers=admin)
    assert first.status_code == 200
    page = first.json()
    assert page["count"] == 5
    assert [u["id"] for u in page["results"]] == ids[:2]
    assert page["previous"] is None
    base = urlsplit(api.base_url)
    next_url = urlsplit(page["next"])
    assert (next_url.scheme, next_url.netloc, next_url.path) == (base.scheme, base.netloc, USERS)
    assert _query(page["next"]) == {"search": tag.upper(), "limit": "2", "offset": "2"}

    second = api.client.get(page["next"], headers=admin).json()
    assert [u["id"] for u in second["results"]] == ids[2:4]
    assert _query(second["previous"]) == {"search": tag.upper(), "limit": "2", "offset": "0"}
    third = api.client.get(second["next"], headers=admin).json()
    assert [u["id"] for u in third["results"]] == ids[4:]
    assert third["next"] is None
    assert _query(third["previous"]) == {"search": tag.upper(), "limit": "2", "offset": "2"}


def test_previous_of_a_page_with_offset_below_limit_starts_at_zero(
    api: Api, admin: dict[str, str]
) -> None:
    tag, ids = _tagged_users(api, 4)
    page = api.client.get(
        USERS, params={"search": tag, "limit": 3, "offset": 1}, headers=admin
    ).json()
    assert [u["id"] for u in page["results"]] == ids[1:4]
    assert _query(page["previous"]) == {"search": tag, "limit": "3", "offset": "0"}
    assert page["next"] is None
    beyond = api.client.get(
        USERS, params={"search": tag, "limit": 3, "offset": 10}, headers=admin
    ).json()
    assert beyond["results"] == []
    assert beyond["count"] == 4
    assert beyond["next"] is None


def test_list_filters_by_is_active_and_searches_names(api: Api, admin: dict[str, str]) -> None:
    tag, ids = _tagged_users(api, 4)
    for user_id in ids[:2]:
        api.client.post(f"{USERS}/{user_id}/deactivate", headers=admin)
    inactive = api.client.get(
        USERS, params={"search": tag, "is_active": "false"}, headers=admin
    ).json()
    assert [u["id"] for u in inactive["results"]] == ids[:2]
    assert all(u["is_active"] is False for u in inactive["results"])
    active = api.client.get(USERS, params={"search": tag, "is_active": "true"}, headers=admin)
    assert [u["id"] for u in active.json()["results"]] == ids[2:]
    # The filters are repeated in the page links.
    paged = api.client.get(
        USERS, params={"search": tag, "is_active": "true", "limit": 1}, headers=admin
    ).json()
    assert _query(paged["next"]) == {
        "search": tag,
        "is_active": "true",
        "limit": "1",
        "offset": "1",
    }

    name_tag = "Zq" + uuid.uuid4().hex[:10]
    named = api.register(name=f"Someone {name_tag} Else", login=False)
    found = api.client.get(USERS, params={"search": name_tag.lower()}, headers=admin).json()
    assert [u["id"] for u in found["results"]] == [named.id]


def test_search_treats_wildcards_literally(api: Api, admin: dict[str, str]) -> None:
    tag, _ = _tagged_users(api, 1)
    for pattern in ("%", "_", f"{tag}%", f"list-{tag}_0"):
        response = api.client.get(USERS, params={"search": pattern, "limit": 1}, headers=admin)
        assert response.status_code == 200
        if pattern in (f"{tag}%", f"list-{tag}_0"):
            assert response.json()["count"] == 0, pattern


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"limit": "abc"},
        {"limit": "1.5"},
        {"limit": "1.0"},
        {"limit": "+1"},
        {"limit": " 1"},
        {"limit": ""},
        {"offset": "01"},
        {"offset": -1},
        {"offset": "x"},
        {"offset": "9223372036854775808"},
        {"is_active": "maybe"},
        {"is_active": "2"},
        {"search": "s" * 255},
        {"search": "nul\u0000"},
    ],
)
def test_list_query_validation(
    api: Api, admin: dict[str, str], params: dict[str, str | int]
) -> None:
    response = api.client.get(USERS, params=params, headers=admin)
    assert response.status_code == 422
    assert error_fields(response) & set(params)


def test_a_repeated_query_parameter_is_422(api: Api, admin: dict[str, str]) -> None:
    response = api.client.get(USERS, params=[("limit", "1"), ("limit", "2")], headers=admin)
    assert response.status_code == 422
    assert "limit" in error_fields(response)


def test_list_limit_bounds_are_accepted(api: Api, admin: dict[str, str]) -> None:
    for params in ({"limit": 1}, {"limit": 100}, {"offset": 0}, {"unknown": "ignored"}):
        assert api.client.get(USERS, params=params, headers=admin).status_code == 200
    one = api.client.get(USERS, params={"limit": 1}, headers=admin).json()
    assert len(one["results"]) == 1


def test_an_admin_cannot_deactivate_demote_or_delete_their_own_account(api: Api) -> None:
    second = api.make_admin(api.register())
    own, headers = f"{USERS}/{second.id}", bearer(second.access)
    for response in (
        api.client.post(f"{own}/deactivate", headers=headers),
        api.client.patch(own, json={"is_admin": False}, headers=headers),
        api.client.delete(own, headers=headers),
    ):
        assert response.status_code == 409, response.text
    # Other changes to one's own account are fine, and the account is untouched.
    renamed = api.client.patch(own, json={"name": "Still Admin"}, headers=headers)
    assert renamed.status_code == 200
    assert renamed.json()["is_admin"] is True
    assert renamed.json()["is_active"] is True
    # Not the last active admin: deleting oneself through /users/me works.
    assert api.client.delete(ME, headers=headers).status_code == 204


def test_the_same_faults_get_the_same_details_in_every_service(
    api: Api, admin: dict[str, str]
) -> None:
    not_found = "The requested resource was not found."
    assert problem(api.client.get(f"{USERS}/987654321", headers=admin))["detail"] == not_found
    assert problem(api.client.get("/no/such/route"))["detail"] == not_found
    query = api.client.get(USERS, params={"limit": "many"}, headers=admin)
    assert problem(query)["detail"] == "The query parameters are invalid."
    body = api.client.patch(ME, json={"age": "36"}, headers=admin)
    assert problem(body)["detail"] == "The request body is invalid."
