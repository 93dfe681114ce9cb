"""Input and output serializers, with the contract's strict types.

DRF coerces by default (`IntegerField` takes `"36"` and `36.0`, `CharField`
takes `123`, `BooleanField` takes `"yes"`) and ignores unknown fields; the
`Strict*` fields and `StrictSerializer` below refuse all of that with 422.
"""

import re
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from users.managers import normalize_email

# The WHATWG HTML "valid e-mail address" rule, as the contract states it.
EMAIL_PATTERN = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)


class ContractMessages(serializers.Field[Any, Any, Any, Any]):
    """The contract README's field messages for the rules every field shares (DRF collects
    `default_error_messages` along the class hierarchy)."""

    default_error_messages = {  # noqa: RUF012 (DRF's own convention)
        "required": "Field required.",
        "null": "Must not be null.",
        "blank": "Must not be empty.",
        "min_length": "Must be at least {min_length} characters.",
        "max_length": "Must be at most {max_length} characters.",
        "min_value": "Must be at least {min_value}.",
        "max_value": "Must be at most {max_value}.",
    }


def one_message(text: str, *keys: str) -> dict[str, Any]:
    """One message for several rules of a field (a name's length, trimmed or not)."""
    return dict.fromkeys(keys, text)


class StrictCharField(ContractMessages, serializers.CharField):
    """A JSON string only; NUL characters and lone surrogates are refused."""

    default_error_messages = {  # noqa: RUF012
        "invalid": "Must be a string.",
        "nul": "Must not contain a NUL character.",
        "surrogate": "Must not contain a lone surrogate.",
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("nul")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogate")
        value: str = super().to_internal_value(data)
        return value

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # DRF checks for blank strings before the type; check the type first so
        # that `123` is "Must be a string." and never becomes "123".
        if data is not serializers.empty and data is not None and not isinstance(data, str):
            self.fail("invalid")
        return super().run_validation(data)


class StrictIntegerField(ContractMessages, serializers.IntegerField):
    """A JSON integer only: not `"36"`, not `true`, not `36.5`; `36.0` is 36, as JSON
    Schema reads it."""

    default_error_messages = {"invalid": "Must be an integer."}  # noqa: RUF012

    def to_internal_value(self, data: Any) -> int:
        if type(data) is float and data.is_integer():
            return int(data)
        if type(data) is not int:
            self.fail("invalid")
        return int(data)


class StrictBooleanField(ContractMessages, serializers.BooleanField):
    """A JSON boolean only: not `1`, not `"true"`."""

    default_error_messages = {"invalid": "Must be true or false."}  # noqa: RUF012

    def to_internal_value(self, data: Any) -> bool:
        if type(data) is not bool:
            self.fail("invalid")
        return data


class EmailField(StrictCharField):
    default_error_messages = one_message(
        "Must be a valid email address of at most 254 characters.",
        "invalid_email",
        "blank",
        "max_length",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=254, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not EMAIL_PATTERN.fullmatch(value):
            self.fail("invalid_email")
        return normalize_email(value)


class NameField(StrictCharField):
    default_error_messages = one_message(
        "Must be 2 to 100 characters after trimming.", "blank", "min_length", "max_length"
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_length=2, max_length=100, trim_whitespace=True, **kwargs)


class AgeField(StrictIntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=150, allow_null=True, **kwargs)


class NewPasswordField(StrictCharField):
    """8 to 128 code points, not only whitespace, used exactly as sent."""

    default_error_messages = {  # noqa: RUF012
        **one_message("Must be 8 to 128 characters.", "blank", "min_length", "max_length"),
        "whitespace": "Must not be only whitespace.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_length=8, max_length=128, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value.strip():
            self.fail("whitespace")
        return value


class CredentialField(StrictCharField):
    """A login username or password, or a current password: 1 to 1,024 characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_length=1, max_length=1024, trim_whitespace=False, **kwargs)


class TokenStringField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=1024, trim_whitespace=False, allow_blank=True, **kwargs)


# --8<-- [start:inputs]
class StrictSerializer(serializers.Serializer[Any]):
    """Refuses fields it does not declare (mass assignment such as `is_admin`)."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # `null` included, which DRF would answer with its own "No data provided".
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"body": ["Must be a JSON object."]})
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {
            str(key): ["Unknown field."] for key in data if key not in self.fields
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"body": exc.detail}
            errors = {**detail, **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return value


# --- inputs ------------------------------------------------------------------


class UserCreateInput(StrictSerializer):
    email = EmailField()
    password = NewPasswordField()
    name = NameField()
    age = AgeField(required=False)


class UserUpdateMeInput(StrictSerializer):
    email = EmailField(required=False)
    name = NameField(required=False)
    age = AgeField(required=False)


class UserUpdateInput(UserUpdateMeInput):
    is_admin = StrictBooleanField(required=False)


class PasswordChangeInput(StrictSerializer):
    current_password = CredentialField()
    new_password = NewPasswordField()
    # --8<-- [end:inputs]


class TokenInput(StrictSerializer):
    """`POST /auth/token` as JSON."""

    grant_type = StrictCharField(required=False, trim_whitespace=False, allow_blank=True)
    username = CredentialField()
    password = CredentialField()


class TokenFormInput(TokenInput):
    """`POST /auth/token` as the OAuth2 password grant form (what Swagger UI sends)."""

    scope = StrictCharField(
        required=False, max_length=1024, trim_whitespace=False, allow_blank=True
    )
    client_id = StrictCharField(
        required=False, max_length=1024, trim_whitespace=False, allow_blank=True
    )
    client_secret = StrictCharField(
        required=False, max_length=1024, trim_whitespace=False, allow_blank=True
    )


class PasswordResetInput(StrictSerializer):
    email = EmailField()


class PasswordResetConfirmInput(StrictSerializer):
    token = TokenStringField()
    new_password = NewPasswordField()


class EmailVerificationInput(StrictSerializer):
    token = TokenStringField()


class RefreshInput(StrictSerializer):
    refresh_token = TokenStringField()


class LogoutInput(StrictSerializer):
    refresh_token = TokenStringField(required=False)


class QueryIntegerField(ContractMessages, serializers.IntegerField):
    """A query-string integer as the contract writes it: no sign, space, decimals or leading
    zero (DRF would also take `" 20"` or `"20.0"`)."""

    default_error_messages = {"invalid": "Must be an integer."}  # noqa: RUF012

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not re.fullmatch(r"0|[1-9][0-9]{0,19}", data):
            self.fail("invalid")
        return int(data)

    def get_value(self, dictionary: Any) -> Any:
        # An empty `limit=` is a value, and not an integer (DRF would take the default).
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class QueryBooleanField(ContractMessages, serializers.Field[bool, str, str, Any]):
    default_error_messages = {"invalid": "Must be true or false."}  # noqa: RUF012

    def to_internal_value(self, data: Any) -> bool:
        if data == "true":
            return True
        if data == "false":
            return False
        self.fail("invalid")

    def to_representation(self, value: bool) -> str:
        return "true" if value else "false"


class UserListQuery(serializers.Serializer[Any]):
    """Admin list filters; unknown query parameters are ignored, a known one given twice
    is refused (a QueryDict would hand over the last)."""

    def to_internal_value(self, data: Any) -> Any:
        repeated = {
            str(n): ["Given more than once."] for n in self.fields if len(data.getlist(n)) > 1
        }
        if repeated:
            raise serializers.ValidationError(repeated)
        return super().to_internal_value(data)

    limit = QueryIntegerField(min_value=1, max_value=100, default=20)
    offset = QueryIntegerField(min_value=0, max_value=2**63 - 1, default=0)
    search = StrictCharField(
        required=False, max_length=254, trim_whitespace=False, allow_blank=True
    )
    is_active = QueryBooleanField(required=False)


# --- outputs -----------------------------------------------------------------


# --8<-- [start:output]
class UserOutput(serializers.Serializer[Any]):
    """Declared fields, not a `ModelSerializer`: that one introspects the model for every
    instance it renders, a fifth of an authenticated `GET /users/me`."""

    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    age = serializers.IntegerField(read_only=True, allow_null=True)
    is_active = serializers.BooleanField(read_only=True)
    is_admin = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    email_verified = serializers.BooleanField(read_only=True)
    last_login_at = serializers.DateTimeField(source="last_login", read_only=True, allow_null=True)
    # --8<-- [end:output]


class UserPageOutput(serializers.Serializer[Any]):
    count = serializers.IntegerField(min_value=0)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = UserOutput(many=True)


class SessionOutput(serializers.Serializer[Any]):
    id = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()
    user_agent = serializers.CharField(allow_null=True)
    ip = serializers.CharField(allow_null=True)
    current = serializers.BooleanField()


class TokenPairOutput(serializers.Serializer[Any]):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField(min_value=1)


class StatusOutput(serializers.Serializer[Any]):
    status = serializers.CharField()
