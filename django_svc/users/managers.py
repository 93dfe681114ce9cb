from typing import TYPE_CHECKING, Any

from django.contrib.auth.base_user import BaseUserManager

if TYPE_CHECKING:
    from users.models import User


def normalize_email(email: str) -> str:
    """The contract's rule in every service: the whole address, `str.lower()`.

    Done in Python before the database sees it, since SQLite's `lower()`
    folds ASCII only.
    """
    return email.lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email=normalize_email(username or ""))

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> "User":
        if not email:
            raise ValueError("A user needs an email address.")
        extra_fields.setdefault("name", email.split("@", 1)[0][:100] or "User")
        user = self.model(email=normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> "User":
        extra_fields["is_admin"] = True
        extra_fields.setdefault("is_active", True)
        # The operator named this address: it is verified, and no mail goes to it.
        extra_fields.setdefault("email_verified", True)
        return self.create_user(email, password, **extra_fields)
