from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.utils import timezone

from users.managers import UserManager, normalize_email


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=100)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_admin = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # False at registration and after every email change, until the mailed link is followed.
    email_verified = models.BooleanField(default=False, db_default=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    class Meta:
        db_table = "users"
        ordering = ("id",)

    def __str__(self) -> str:
        return self.email

    @property
    def is_staff(self) -> bool:
        """The Django admin is open to the API's admins."""
        return self.is_admin

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # One notion of "admin": the API's flag also grants every Django
        # permission, so an admin promoted through the API can use /admin/.
        self.is_superuser = self.is_admin
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "is_admin" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_superuser"}
        super().save(*args, **kwargs)


class RefreshToken(models.Model):
    """Every refresh token issued, its family (one per login) and its access token."""

    jti = models.CharField(max_length=64)
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="refresh_tokens", db_index=False
    )
    family_id = models.CharField(max_length=64)
    access_jti = models.CharField(max_length=64)
    access_expires_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The login's (a session's), copied to each token its rotations issue.
    user_agent = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    ip = models.CharField(max_length=45, null=True, blank=True)  # noqa: DJ001

    class Meta:
        db_table = "refresh_tokens"
        # Named as SQLAlchemy's naming convention names them in the other two services.
        constraints = (models.UniqueConstraint(fields=["jti"], name="uq_refresh_tokens_jti"),)
        indexes = (
            models.Index(fields=["family_id"], name="ix_refresh_tokens_family_id"),
            models.Index(fields=["user"], name="ix_refresh_tokens_user_id"),
        )

    def __str__(self) -> str:
        return self.jti


class RevokedToken(models.Model):
    """The access-token deny-list (used when `REDIS_URL` is not set)."""

    jti = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "revoked_tokens"

    def __str__(self) -> str:
        return self.jti


class LoginFailure(models.Model):
    """Failed-login counts per (client address, username), a fixed window each."""

    key = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()

    class Meta:
        db_table = "login_failures"

    def __str__(self) -> str:
        return self.key
