"""Mail through Flask-Mailman (its SMTP backend when SMTP_HOST is set, its console
backend, the log, otherwise), sent once the request's transaction has committed, on a
small thread pool: a mail server that is down or slow never fails or delays the request
(it is logged)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app
from flask_mailman import EmailMessage, Mail

log = logging.getLogger(__name__)
mail = Mail()
_outbox = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")


def init_app(app: Flask) -> None:
    mail.init_app(app)


def _send(app: Flask, message: EmailMessage) -> None:
    with app.app_context():
        try:
            message.send()
        except Exception as exc:
            log.warning("mail to the SMTP server failed: %s: %s", type(exc).__name__, exc)


def send_later(*, to: str, subject: str, body: str) -> None:
    """Call after the commit: the mail goes out on another thread."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _outbox.submit(_send, app, EmailMessage(subject, body, to=[to]))


def send_password_reset(*, to: str, token: str) -> None:
    config = current_app.config
    body = (
        "Someone asked to reset the password of your account.\n\n"
        f"To choose a new one, open this link within {config['PASSWORD_RESET_MINUTES']} "
        f"minutes:\n\n{config['PUBLIC_BASE_URL']}/reset-password?token={token}\n\n"
        "If it was not you, ignore this mail.\n"
    )
    send_later(to=to, subject="Reset your password", body=body)


def send_verification(*, to: str, token: str) -> None:
    config = current_app.config
    body = (
        "Please confirm your email address by opening this link within "
        f"{config['EMAIL_VERIFICATION_HOURS']} hours:\n\n"
        f"{config['PUBLIC_BASE_URL']}/verify-email?token={token}\n"
    )
    send_later(to=to, subject="Confirm your email address", body=body)
