"""A new account is mailed its verification link (`post_save`, once the row has
committed), however it was created: the API, the admin or a management command."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from users.models import User
from users.services import send_verification_mail


@receiver(post_save, sender=User, dispatch_uid="users.mail_verification_on_registration")
def mail_verification_on_registration(
    sender: type[User], instance: User, created: bool, **kwargs: Any
) -> None:
    if created and not instance.email_verified:
        send_verification_mail(user=instance)
