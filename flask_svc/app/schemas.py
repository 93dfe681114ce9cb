"""Request and response schemas (Pydantic v2, strict, unknown fields forbidden)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails
from werkzeug.datastructures import MultiDict

from .errors import FieldError, ValidationFailed

# The WHATWG HTML "valid e-mail address" rule, as fixed by the contract.
EMAIL_PATTERN = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Every string field refuses NUL and lone surrogates (neither survives every database)."""
    if "\x00" in value:
        raise ValueError("Must not contain a NUL character.")
    if SURROGATES.search(value):
        raise ValueError("Must not contain a lone surrogate.")
    return value


def check_email(value: str) -> str:
    if len(value) > 254 or not EMAIL_PATTERN.fullmatch(value):
        raise ValueError("Must be a valid email address of at most 254 characters.")
    # str.lower() here, before the database sees it, so every database agrees.
    return value.lower()


def check_name(value: str) -> str:
    value = value.strip()
    if not 2 <= len(value) <= 100:
        raise ValueError("Must be 2 to 100 characters after trimming.")
    return value


def check_password(value: str) -> str:
    # Length in code points; never trimmed or normalized.
    if not 8 <= len(value) <= 128:
        raise ValueError("Must be 8 to 128 characters.")
    if not value.strip():
        raise ValueError("Must not be only whitespace.")
    return value


Text = Annotated[str, AfterValidator(clean_text)]
Email = Annotated[Text, AfterValidator(check_email)]
Name = Annotated[Text, AfterValidator(check_name)]
Password = Annotated[Text, AfterValidator(check_password)]


def whole_number(value: Any) -> Any:
    """`36.0` is the integer 36, as JSON Schema reads it; `36.5`, `"36"` and `true` stay
    what they are, and strict validation refuses them."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Age = Annotated[int, BeforeValidator(whole_number), Field(ge=0, le=150)]
Secret = Annotated[str, Field(max_length=1024), AfterValidator(clean_text)]
Credential = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(clean_text)]


# --8<-- [start:inputs]
class StrictModel(BaseModel):
    # strict: "36", true and 36.0 are never an integer, 5 is never a string.
    model_config = ConfigDict(strict=True, extra="forbid")


class PartialUpdate(StrictModel):
    @field_validator("name", "email", mode="before", check_fields=False)
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("Must not be null.")
        return value

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent (an empty object changes nothing)."""
        return self.model_dump(include=self.model_fields_set)


class UserCreate(StrictModel):
    email: Email
    password: Password
    name: Name
    age: Age | None = None


class UserUpdateMe(PartialUpdate):
    name: Name | None = None
    email: Email | None = None
    age: Age | None = None


class UserUpdate(UserUpdateMe):
    is_admin: bool | None = None

    @field_validator("is_admin", mode="before")
    @classmethod
    def admin_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("Must not be null.")
        return value


class PasswordChange(StrictModel):
    current_password: Credential
    new_password: Password
    # --8<-- [end:inputs]


class TokenRequest(StrictModel):
    grant_type: Text | None = None
    username: Credential
    password: Credential

    @field_validator("grant_type", mode="before")
    @classmethod
    def grant_type_not_null(cls, value: Any) -> Any:
        # Absent means the password grant; an explicit null is not a string.
        if value is None:
            raise ValueError("Must not be null.")
        return value


class TokenForm(TokenRequest):
    """The OAuth2 password grant form; the client fields are accepted and ignored."""

    scope: Secret | None = None
    client_id: Secret | None = None
    client_secret: Secret | None = None


class PasswordResetRequest(StrictModel):
    email: Email


class PasswordResetConfirm(StrictModel):
    token: Secret
    new_password: Password


class EmailVerification(StrictModel):
    token: Secret


class RefreshRequest(StrictModel):
    refresh_token: Secret


class LogoutRequest(StrictModel):
    refresh_token: Secret | None = None

    @field_validator("refresh_token", mode="before")
    @classmethod
    def refresh_token_not_null(cls, value: Any) -> Any:
        # Absent means "no refresh token"; an explicit null is not a string.
        if value is None:
            raise ValueError("Must not be null.")
        return value


# --8<-- [start:public]
class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    age: int | None
    is_active: bool
    is_admin: bool
    created_at: datetime
    email_verified: bool
    last_login_at: datetime | None
    # --8<-- [end:public]


class SessionPublic(BaseModel):
    """One login: a refresh-token family."""

    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


class UsersPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[UserPublic]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


Model = TypeVar("Model", bound=BaseModel)


# The contract README's field messages, by Pydantic error type; a custom validator's
# message is the table's own text already.
FIELD_MESSAGES = {
    "missing": "Field required.",
    "extra_forbidden": "Unknown field.",
    "string_type": "Must be a string.",
    "int_type": "Must be an integer.",
    "int_parsing": "Must be an integer.",
    "int_from_float": "Must be an integer.",
    "bool_type": "Must be true or false.",
    "literal_error": "Must be true or false.",
    "model_type": "Must be a JSON object.",
    "dict_type": "Must be a JSON object.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than_equal": "Must be at most {le}.",
    "string_too_short": "Must be at least {min_length} characters.",
    "string_too_long": "Must be at most {max_length} characters.",
}


def field_message(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "value_error":
        return error["msg"].removeprefix("Value error, ")
    if kind.endswith("_type") and error.get("input", "") is None:
        return "Must not be null."
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "Must not be empty."
    return FIELD_MESSAGES.get(kind, "Invalid value.").format(**ctx)


def field_errors(error: ValidationError) -> list[FieldError]:
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]) or "body",
            "message": field_message(item),
        }
        for item in error.errors(include_url=False)
    ]


MAX_ID = 2**63 - 1
DIGITS = re.compile(r"0|[1-9][0-9]*")


def digits_only(value: Any) -> Any:
    """A query integer as the contract writes it: no sign, space, decimals or leading zero."""
    if isinstance(value, str) and not DIGITS.fullmatch(value):
        raise ValueError("Must be an integer.")
    return value


QueryInt = Annotated[int, BeforeValidator(digits_only)]


class UserListQuery(BaseModel):
    """The admin list's query string; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[QueryInt, Field(ge=1, le=100)] = 20
    offset: Annotated[QueryInt, Field(ge=0, le=MAX_ID)] = 0
    search: Annotated[str | None, Field(max_length=254), AfterValidator(clean_text)] = None
    is_active: Literal["true", "false"] | None = None


def validate_query(model: type[Model], args: MultiDict[str, str]) -> Model:
    """Validate a query string; 422 with one entry per problem, a known parameter given
    more than once included (Werkzeug would take the first)."""
    repeated = [name for name in model.model_fields if len(args.getlist(name)) > 1]
    if repeated:
        problems = [{"field": name, "message": "Given more than once."} for name in repeated]
        raise ValidationFailed(problems, "The query parameters are invalid.")
    try:
        return model.model_validate(args.to_dict())
    except ValidationError as error:
        raise ValidationFailed(field_errors(error), "The query parameters are invalid.") from None


# --8<-- [start:validate]
def validate(model: type[Model], data: Any) -> Model:
    """Validate a parsed body; 422 with one entry per problem."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            [{"field": "body", "message": "Must be a JSON object."}],
            "The request body is invalid.",
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(field_errors(error), "The request body is invalid.") from None
    # --8<-- [end:validate]
