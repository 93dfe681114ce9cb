"""Request and response models: strict types, unknown fields refused."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

EMAIL_MAX_LENGTH = 254
# The WHATWG HTML "valid e-mail address" rule, as the contract README states it.
EMAIL_RE = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)


def check_text(value: str) -> str:
    """Refuse NUL and lone surrogates, which no database stores alike."""
    if "\x00" in value:
        raise ValueError("Must not contain a NUL character.")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("Must not contain a lone surrogate.")
    return value


def normalize_email(value: str) -> str:
    if len(value) > EMAIL_MAX_LENGTH or not EMAIL_RE.fullmatch(value):
        raise ValueError("Must be a valid email address of at most 254 characters.")
    return value.lower()


def normalize_name(value: str) -> str:
    value = value.strip()
    if not 2 <= len(value) <= 100:
        raise ValueError("Must be 2 to 100 characters after trimming.")
    return value


def check_password(value: str) -> str:
    if not 8 <= len(value) <= 128:
        raise ValueError("Must be 8 to 128 characters.")
    if not value.strip():
        raise ValueError("Must not be only whitespace.")
    return value


Text = Annotated[str, AfterValidator(check_text)]
Email = Annotated[str, AfterValidator(check_text), AfterValidator(normalize_email)]
Name = Annotated[str, AfterValidator(check_text), AfterValidator(normalize_name)]
Password = Annotated[str, AfterValidator(check_text), AfterValidator(check_password)]


def whole_number(value: Any) -> Any:
    """`36.0` is the integer 36, as JSON Schema reads it; `36.5`, `"36"` and `true` stay
    what they are, and strict validation refuses them."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Age = Annotated[int, BeforeValidator(whole_number), Field(ge=0, le=150)]
# Login fields and presented tokens: any content mismatch is a 401, not a 422.
Credential = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(check_text)]
TokenText = Annotated[str, Field(max_length=1024), AfterValidator(check_text)]


# --8<-- [start:inputs]
class StrictModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class UserCreate(StrictModel):
    email: Email
    password: Password
    name: Name
    age: Age | None = None


class UserUpdateMe(StrictModel):
    email: Email | None = Field(default=None, json_schema_extra={"type": "string"})
    name: Name | None = Field(default=None, json_schema_extra={"type": "string"})
    age: Age | None = None

    @field_validator("email", "name", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Absent means "unchanged"; an explicit null is refused (only age may be cleared).
        if value is None:
            raise ValueError("Must not be null.")
        return value


class UserUpdate(UserUpdateMe):
    is_admin: bool | None = Field(default=None, json_schema_extra={"type": "boolean"})

    @field_validator("is_admin", mode="before")
    @classmethod
    def _admin_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("Must not be null.")
        return value


class PasswordChange(StrictModel):
    current_password: Credential
    new_password: Password
    # --8<-- [end:inputs]


class TokenRequest(StrictModel):
    """JSON form of the OAuth2 password grant."""

    username: Credential
    password: Credential
    grant_type: Literal["password"] | None = None


class TokenForm(TokenRequest):
    """Form-encoded password grant: the OAuth2 client fields are accepted and ignored."""

    scope: Text | None = None
    client_id: Text | None = None
    client_secret: Text | None = None


class PasswordResetRequest(StrictModel):
    email: Email


class PasswordResetConfirm(StrictModel):
    token: TokenText
    new_password: Password


class EmailVerification(StrictModel):
    token: TokenText


class SessionPublic(BaseModel):
    """One login: a refresh-token family."""

    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


class RefreshRequest(StrictModel):
    refresh_token: TokenText


class LogoutRequest(StrictModel):
    refresh_token: TokenText | None = Field(default=None, json_schema_extra={"type": "string"})

    @field_validator("refresh_token", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
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


class UsersPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[UserPublic]
    # --8<-- [end:public]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Status(BaseModel):
    status: Literal["ok"] = "ok"


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str


class ProblemFieldError(BaseModel):
    field: str
    message: str


class ValidationProblem(Problem):
    errors: list[ProblemFieldError]
