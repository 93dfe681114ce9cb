"""Mail: Django's `send_mail` through the configured backend, once the transaction has
committed (`transaction.on_commit`), on a small thread pool so that a mail server that
is down or slow never fails or delays the request (it is logged)."""

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

log = logging.getLogger(__name__)
# Django 5.2 has no task queue of its own; two threads per worker send the mail.
_outbox = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")


def _send(*, to: str, subject: str, body: str) -> None:
    try:
        send_mail(subject, body, None, [to])
    except Exception as exc:
        log.warning("mail to the SMTP server failed: %s: %s", type(exc).__name__, exc)


def send_after_commit(*, to: str, subject: str, body: str) -> None:
    transaction.on_commit(lambda: _outbox.submit(_send, to=to, subject=subject, body=body))


def send_password_reset(*, to: str, token: str) -> None:
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    body = (
        "Someone asked to reset the password of your account.\n\n"
        f"To choose a new one, open this link within {minutes} minutes:\n\n"
        f"{settings.PUBLIC_BASE_URL}/reset-password?token={token}\n\n"
        "If it was not you, ignore this mail.\n"
    )
    send_after_commit(to=to, subject="Reset your password", body=body)


def send_verification(*, to: str, token: str) -> None:
    body = (
        "Please confirm your email address by opening this link within "
        f"{settings.EMAIL_VERIFICATION_HOURS} hours:\n\n"
        f"{settings.PUBLIC_BASE_URL}/verify-email?token={token}\n"
    )
    send_after_commit(to=to, subject="Confirm your email address", body=body)
