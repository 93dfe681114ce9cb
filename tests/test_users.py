"""Registration, the user's own account, validation rules and strict types."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from helpers import (
    ME,
    PASSWORD,
    TOKEN,
    USERS,
    Api,
    error_fields,
    new_password,
    problem,
    race,
    raw_json,
    unique_email,
)

TAKEN = "A user with this email already exists."


def _create(api: Api, **fields: Any) -> Any:
    body: dict[str, Any] = {"email": unique_email(), "password": new_password(), "name": "Valid"}
    body.update(fields)
    return raw_json(api.client, "POST", USERS, body)


# -- registration ------------------------------------------------------------------


def test_register_returns_the_user_and_location(api: Api) -> None:
    email = unique_email()
    response = api.client.post(
        USERS, json={"email": email, "password": "s3cret-pass", "name": "Ada", "age": 36}
    )
    assert response.status_code == 201
    user = response.json()
    assert user["email"] == email
    assert user["name"] == "Ada"
    assert user["age"] == 36
    assert user["is_active"] is True
    assert user["is_admin"] is False
    assert user["created_at"].endswith("Z")
    assert "password" not in response.text
    assert "s3cret-pass" not in response.text
    assert urlsplit(response.headers["location"]).path == f"{USERS}/{user['id']}"


def test_register_without_age_gives_null(api: Api) -> None:
    response = api.client.post(
        USERS, json={"email": unique_email(), "password": "long enough", "name": "No Age"}
    )
    assert response.status_code == 201
    assert response.json()["age"] is None


def test_email_is_lower_cased_and_unique_in_any_case(api: Api) -> None:
    local = unique_email("Mixed").split("@")[0]
    response = api.client.post(
        USERS,
        json={"email": f"{local}@Example.COM", "password": "long enough", "name": "Mixed"},
    )
    assert response.status_code == 201
    assert response.json()["email"] == f"{local.lower()}@example.com"
    again = api.client.post(
        USERS,
        json={"email": f"{local.upper()}@EXAMPLE.com", "password": "long enough", "name": "Up"},
    )
    assert again.status_code == 409
    assert problem(again)["detail"] == TAKEN
    # Logging in with another case reaches the same account.
    assert api.login_response(f"{local.upper()}@example.com", "long enough").status_code == 200


@pytest.mark.parametrize("field", ["is_admin", "is_active", "id", "created_at", "role"])
def test_unknown_fields_are_422_and_named(api: Api, field: str) -> None:
    response = _create(api, **{field: True})
    assert response.status_code == 422
    assert field in error_fields(response)


@pytest.mark.parametrize("missing", ["email", "password", "name"])
def test_missing_required_field_is_422(api: Api, missing: str) -> None:
    body: dict[str, Any] = {"email": unique_email(), "password": "long enough", "name": "Valid"}
    del body[missing]
    response = api.client.post(USERS, json=body)
    assert response.status_code == 422
    assert missing in error_fields(response)


STRICT_TYPES = [
    ("age", "36"),
    ("age", True),
    ("age", 36.5),
    ("age", 101.5),
    ("age", [36]),
    ("age", {"v": 36}),
    ("name", 12345),
    ("name", True),
    ("name", ["Ada", "L"]),
    ("name", None),
    ("email", ["a@example.com"]),
    ("email", 42),
    ("email", None),
    ("password", 123456789),
    ("password", None),
    ("password", ["long enough"]),
]


@pytest.mark.parametrize("age", [36.0, 101.0, 0.0])
def test_a_number_with_no_fractional_part_is_that_integer(api: Api, age: float) -> None:
    # As JSON Schema reads it; the contract's own schema calls the age an integer.
    response = _create(api, age=age)
    assert response.status_code == 201, response.text
    assert response.json()["age"] == int(age)


@pytest.mark.parametrize(("field", "value"), STRICT_TYPES)
def test_types_are_strict(api: Api, field: str, value: object) -> None:
    response = _create(api, **{field: value})
    assert response.status_code == 422, response.text
    assert field in error_fields(response)


INVALID = [
    ("email", "plain"),
    ("email", "a@"),
    ("email", "@example.com"),
    ("email", "two words@example.com"),
    ("email", " padded@example.com"),
    ("email", "padded@example.com "),
    ("email", "a@b@example.com"),
    ("email", "dots@example..com"),
    ("email", "dash@-example.com"),
    ("email", "x" * 243 + "@example.com"),
    ("email", ""),
    ("name", "A"),
    ("name", "  A  "),
    ("name", "     "),
    ("name", ""),
    ("name", "x" * 101),
    ("age", -1),
    ("age", 151),
    ("password", "short7!"),
    ("password", "x" * 129),
    ("password", " " * 12),
    ("password", "\t\n \t\n \t\n"),
    ("password", ""),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_field_rules(api: Api, field: str, value: object) -> None:
    response = _create(api, **{field: value})
    assert response.status_code == 422, response.text
    assert field in error_fields(response)


@pytest.mark.parametrize("field", ["email", "name", "password"])
@pytest.mark.parametrize("bad", ["\u0000", "\ud800", "x\udfff"])
def test_nul_and_lone_surrogates_are_422(api: Api, field: str, bad: str) -> None:
    values = {
        "email": f"nul{bad}x@example.com",
        "name": f"Na{bad}me",
        "password": f"pass{bad}word1",
    }
    response = _create(api, **{field: values[field]})
    assert response.status_code == 422, response.text
    assert field in error_fields(response)


def test_limits_that_are_allowed(api: Api) -> None:
    local = unique_email("edge").split("@")[0]
    domain_len = 254 - len(local) - 1
    labels = []
    while domain_len > 0:
        take = min(61, domain_len - 2) if domain_len > 63 else domain_len
        labels.append("d" * take)
        domain_len -= take + 1
    email = f"{local}@{'.'.join(labels)}"
    assert len(email) == 254, len(email)
    for fields in (
        {"email": email},
        {"name": "  " + "n" * 100 + "  "},
        {"name": "Al"},
        {"age": 0},
        {"age": 150},
        {"age": None},
        {"password": "p" * 8},
        {"password": "p" * 128},
        {"email": unique_email("a.b+tag_x!#$%&'*/=?^`{|}~")},
    ):
        response = _create(api, **fields)
        assert response.status_code == 201, (fields, response.text)
    trimmed = _create(api, name="   Grace Hopper \t")
    assert trimmed.json()["name"] == "Grace Hopper"


def test_password_is_used_exactly_as_sent(api: Api) -> None:
    cases = [
        "  spaced out  ",
        "CaseSensitive1",
        "\u00e9" * 8,
        "\U0001f600" * 128,
    ]
    for password in cases:
        email = unique_email("exact")
        created = raw_json(
            api.client, "POST", USERS, {"email": email, "password": password, "name": "Ex"}
        )
        assert created.status_code == 201, (password, created.text)
        ok = raw_json(api.client, "POST", TOKEN, {"username": email, "password": password})
        assert ok.status_code == 200, password
    wrong = {
        "  spaced out  ": "spaced out",
        "CaseSensitive1": "casesensitive1",
        "\u00e9" * 8: "e\u0301" * 8,
        "\U0001f600" * 128: "\U0001f600" * 127,
    }
    for password, other in wrong.items():
        email = unique_email("exact")
        raw_json(api.client, "POST", USERS, {"email": email, "password": password, "name": "Ex"})
        response = raw_json(api.client, "POST", TOKEN, {"username": email, "password": other})
        assert response.status_code == 401, (password, other)


def test_emoji_password_longer_than_72_bytes_is_not_truncated(api: Api) -> None:
    email = unique_email("emoji")
    password = "\U0001f600" * 20 + "A"
    raw_json(api.client, "POST", USERS, {"email": email, "password": password, "name": "Emoji"})
    same_prefix = "\U0001f600" * 20 + "B"
    response = raw_json(api.client, "POST", TOKEN, {"username": email, "password": same_prefix})
    assert response.status_code == 401


def test_failed_request_changes_nothing(api: Api) -> None:
    email = unique_email("atomic")
    response = _create(api, email=email, age="36")
    assert response.status_code == 422
    assert api.login_response(email, "whatever-pw").status_code == 401
    assert _create(api, email=email).status_code == 201


def test_concurrent_registrations_of_one_email(api: Api) -> None:
    email = unique_email("race")

    def register(index: int) -> int:
        return api.client.post(
            USERS, json={"email": email, "password": "long enough", "name": f"Racer {index}"}
        ).status_code

    statuses = race(8, register)
    assert sorted(statuses) == [201] + [409] * 7


# -- the own account ---------------------------------------------------------------


def test_get_me(api: Api) -> None:
    account = api.register(name="Me Myself", age=41)
    response = api.me(account.access)
    assert response.status_code == 200
    assert response.json() == account.user


def test_patch_me(api: Api) -> None:
    account = api.register()
    response = api.client.patch(
        ME, json={"name": "  New Name ", "age": 50}, headers=account.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "New Name"
    assert body["age"] == 50
    assert api.me(account.access).json()["name"] == "New Name"
    cleared = api.client.patch(ME, json={"age": None}, headers=account.headers)
    assert cleared.json()["age"] is None
    unchanged = api.client.patch(ME, json={}, headers=account.headers)
    assert unchanged.status_code == 200
    assert unchanged.json() == cleared.json()


@pytest.mark.parametrize(
    "body",
    [
        {"is_admin": True},
        {"is_active": False},
        {"password": "long enough new"},
        {"id": 1},
        {"name": None},
        {"email": None},
        {"age": "40"},
        {"age": True},
        {"name": "ok name", "unknown": 1},
        {"name": "Nul\u0000"},
        {"email": "x\ud800@example.com"},
    ],
)
def test_patch_me_rejects(api: Api, body: dict[str, Any]) -> None:
    account = api.register(name="Before")
    response = raw_json(api.client, "PATCH", ME, body, headers=account.headers)
    assert response.status_code == 422, response.text
    assert error_fields(response) & set(body)
    after = api.me(account.access).json()
    assert after == account.user


def test_patch_me_email(api: Api) -> None:
    account = api.register()
    other = api.register()
    new_email = unique_email("Changed")
    response = api.client.patch(ME, json={"email": new_email}, headers=account.headers)
    assert response.status_code == 200
    assert response.json()["email"] == new_email.lower()
    assert api.login_response(new_email, account.password).status_code == 200
    assert api.login_response(account.email, account.password).status_code == 401
    taken = api.client.patch(ME, json={"email": other.email.upper()}, headers=account.headers)
    assert taken.status_code == 409
    assert problem(taken)["detail"] == TAKEN
    own = api.client.patch(ME, json={"email": new_email.upper()}, headers=account.headers)
    assert own.status_code == 200
    assert own.json()["email"] == new_email.lower()


def test_concurrent_email_changes_to_one_address(api: Api) -> None:
    accounts = [api.register() for _ in range(8)]
    target = unique_email("wanted")

    def change(index: int) -> int:
        return api.client.patch(
            ME, json={"email": target}, headers=accounts[index].headers
        ).status_code

    statuses = race(8, change)
    assert sorted(statuses) == [200] + [409] * 7


def test_delete_me(api: Api) -> None:
    account = api.register()
    response = api.client.delete(ME, headers=account.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert api.me(account.access).status_code == 401
    assert api.login_response(account.email, account.password).status_code == 401
    refreshed = api.refresh(account.refresh)
    assert refreshed.status_code == 401
    again = api.register(email=account.email)
    assert again.id > account.id, "ids are never reused"
    assert api.me(account.access).status_code == 401
    assert api.me(again.access).json()["email"] == account.email


def test_password_endpoint_validation(api: Api) -> None:
    account = api.register()
    for body in (
        {"current_password": account.password, "new_password": "short"},
        {"current_password": account.password, "new_password": " " * 10},
        {"current_password": account.password, "new_password": 12345678},
        {"current_password": account.password},
        {"current_password": account.password, "new_password": "long enough", "x": 1},
        {"current_password": account.password, "new_password": "long\u0000enough"},
    ):
        response = raw_json(api.client, "PUT", PASSWORD, body, headers=account.headers)
        assert response.status_code == 422, body
    assert api.me(account.access).status_code == 200
