"""One voice: the same `detail` and field messages, word for word, in every service
(the contract README's two tables; the response hook checks every answer against the
lists in the contract's schemas, these tests that each case gets its own sentence)."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import REFRESH, TOKEN, USERS, Api, field_messages, problem

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
VALID = {"email": "one.voice@example.com", "password": "long enough 1", "name": "Ada"}

BAD_BODIES = [
    (b"", "The request body is empty."),
    (b"{bad", "The request body is not valid JSON."),
    (b'{"age": NaN}', "The request body is not valid JSON: NaN and Infinity are not allowed."),
    (b'{"age": 1, "age": 2}', "The request body is not valid JSON: a key appears twice."),
    (b"[" * 70 + b"]" * 70, "The request body is nested too deeply."),
    (b'{"age": ' + b"1" * 5000 + b"}", "The request body is not valid JSON."),
    (b"\xff\xfe", "The request body is not valid UTF-8."),
]


@pytest.mark.parametrize(("body", "detail"), BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_each_malformed_body_has_its_sentence(api: Api, body: bytes, detail: str) -> None:
    response = api.client.post(USERS, content=body, headers=JSON)
    assert response.status_code == 400
    assert problem(response)["detail"] == detail


def test_the_token_endpoint_names_its_two_media_types(api: Api) -> None:
    response = api.client.post(TOKEN, content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    expected = "The request body must be application/x-www-form-urlencoded or application/json."
    assert problem(response)["detail"] == expected
    response = api.client.post(USERS, content=b"x", headers={"Content-Type": "text/plain"})
    assert problem(response)["detail"] == "The request body must be application/json."


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"username=a&username=b&password=x", "A form field is given more than once."),
        (
            b"grant_type=client_credentials&username=a&password=x",
            "The grant_type must be password.",
        ),
    ],
    ids=["repeated-field", "grant-type"],
)
def test_the_token_endpoint_refuses_a_bad_form_alike(api: Api, body: bytes, detail: str) -> None:
    response = api.client.post(TOKEN, content=body, headers=FORM)
    assert response.status_code == 400
    assert problem(response)["detail"] == detail


FIELD_CASES = [
    (
        {**VALID, "email": "not an address"},
        {"email": "Must be a valid email address of at most 254 characters."},
    ),
    ({**VALID, "password": "short"}, {"password": "Must be 8 to 128 characters."}),
    ({**VALID, "password": " " * 9}, {"password": "Must not be only whitespace."}),
    ({**VALID, "name": " a "}, {"name": "Must be 2 to 100 characters after trimming."}),
    ({**VALID, "name": "Ada\x00"}, {"name": "Must not contain a NUL character."}),
    ({**VALID, "age": -1}, {"age": "Must be at least 0."}),
    ({**VALID, "age": 151}, {"age": "Must be at most 150."}),
    ({**VALID, "age": "36"}, {"age": "Must be an integer."}),
    ({**VALID, "age": 36.5}, {"age": "Must be an integer."}),
    ({**VALID, "name": 5}, {"name": "Must be a string."}),
    ({**VALID, "email": None}, {"email": "Must not be null."}),
    ({**VALID, "is_admin": True}, {"is_admin": "Unknown field."}),
    ({"email": VALID["email"]}, {"password": "Field required.", "name": "Field required."}),
]


@pytest.mark.parametrize(("body", "messages"), FIELD_CASES, ids=range(len(FIELD_CASES)))
def test_each_broken_field_rule_has_its_message(
    api: Api, body: dict[str, Any], messages: dict[str, str]
) -> None:
    assert field_messages(api.client.post(USERS, json=body)) == messages


def test_a_body_that_is_no_object(api: Api) -> None:
    assert field_messages(api.client.post(USERS, json=[VALID])) == {
        "body": "Must be a JSON object."
    }


def test_login_and_token_fields(api: Api) -> None:
    assert field_messages(api.client.post(TOKEN, json={"username": "", "password": ""})) == {
        "username": "Must not be empty.",
        "password": "Must not be empty.",
    }
    too_long = api.client.post(REFRESH, json={"refresh_token": "x" * 1025})
    assert field_messages(too_long) == {"refresh_token": "Must be at most 1024 characters."}


def test_query_parameters(api: Api) -> None:
    query = {"limit": "0", "offset": "x", "is_active": "maybe", "search": "a" * 255}
    response = api.client.get(USERS, params=query, headers=api.admin_headers())
    assert problem(response)["detail"] == "The query parameters are invalid."
    assert field_messages(response) == {
        "limit": "Must be at least 1.",
        "offset": "Must be an integer.",
        "is_active": "Must be true or false.",
        "search": "Must be at most 254 characters.",
    }
    twice = api.client.get(f"{USERS}?limit=1&limit=2", headers=api.admin_headers())
    assert field_messages(twice) == {"limit": "Given more than once."}
