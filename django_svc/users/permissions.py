from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api.errors import ADMIN_REQUIRED


class IsAdmin(BasePermission):
    """Admins only; `is_admin` is read from the database on every request."""

    message = ADMIN_REQUIRED

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user is not None and user.is_authenticated and getattr(user, "is_admin", False))
