from typing import Any

from django.apps import AppConfig

from users.services import ensure_first_admin


def create_first_admin(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After `migrate`: the `FIRST_ADMIN_*` admin exists (idempotent, race-safe)."""
    ensure_first_admin()
