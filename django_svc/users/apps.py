from django.apps import AppConfig
from django.db.models.signals import post_migrate


class UsersConfig(AppConfig):
    name = "users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from users.signals import create_first_admin

        post_migrate.connect(create_first_admin, sender=self)
