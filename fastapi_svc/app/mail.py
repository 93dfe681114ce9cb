"""Mail, sent after the response by FastAPI's `BackgroundTasks` (so after the commit):
through SMTP when SMTP_HOST is set, to the log otherwise. A mail server that is down
or slow is logged and never fails or delays the request."""

import logging
import smtplib
from email.message import EmailMessage

from app.config import Settings

logger = logging.getLogger("app.mail")
SMTP_TIMEOUT_SECONDS = 10


def send_mail(settings: Settings, *, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.mail_from, to, subject
    message.set_content(body)
    if not settings.smtp_host:
        logger.info("mail (no SMTP_HOST set)\n%s", message.as_string())
        return
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("mail to the SMTP server failed: %s: %s", type(exc).__name__, exc)


def password_reset_mail(settings: Settings, *, to: str, token: str) -> dict[str, str]:
    link = f"{settings.base_url}/reset-password?token={token}"
    body = (
        "Someone asked to reset the password of your account.\n\n"
        f"To choose a new one, open this link within {settings.password_reset_minutes} "
        f"minutes:\n\n{link}\n\nIf it was not you, ignore this mail.\n"
    )
    return {"to": to, "subject": "Reset your password", "body": body}


def verification_mail(settings: Settings, *, to: str, token: str) -> dict[str, str]:
    link = f"{settings.base_url}/verify-email?token={token}"
    body = (
        "Please confirm your email address by opening this link within "
        f"{settings.email_verification_hours} hours:\n\n{link}\n"
    )
    return {"to": to, "subject": "Confirm your email address", "body": body}
