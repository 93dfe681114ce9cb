from typing import Any

from django.core.management.base import BaseCommand

from users.services import ensure_first_admin


class Command(BaseCommand):
    help = "Create the FIRST_ADMIN_EMAIL / FIRST_ADMIN_PASSWORD admin if it does not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        user = ensure_first_admin()
        if user is None:
            self.stdout.write("FIRST_ADMIN_EMAIL and FIRST_ADMIN_PASSWORD are not both set.")
        else:
            self.stdout.write(f"Admin {user.email} exists.")
