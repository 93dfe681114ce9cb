"""`flask` commands: bootstrap-admin, create-admin, prune-tokens."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import services, tokens
from .errors import EmailTakenError, ValidationFailed
from .schemas import UserCreate, validate


def _checked_admin(email: str, password: str, name: str) -> UserCreate:
    try:
        return validate(UserCreate, {"email": email, "password": password, "name": name})
    except ValidationFailed as error:
        problems = "; ".join(f"{item['field']} {item['message']}" for item in error.errors or [])
        raise click.ClickException(problems) from None


@click.command("bootstrap-admin")
@with_appcontext
def bootstrap_admin() -> None:
    """Create the admin from FIRST_ADMIN_EMAIL/FIRST_ADMIN_PASSWORD, if both are set.

    Idempotent: an existing account with that email is left as it is.
    """
    email = current_app.config["FIRST_ADMIN_EMAIL"]
    password = current_app.config["FIRST_ADMIN_PASSWORD"]
    if not email or not password:
        click.echo("FIRST_ADMIN_EMAIL/FIRST_ADMIN_PASSWORD not set; nothing to do.")
        return
    admin = _checked_admin(email, password, "Admin")
    if services.ensure_first_admin(email=admin.email, password=admin.password):
        click.echo(f"Created admin {admin.email}.")
    else:
        click.echo(f"{admin.email} already exists; left unchanged.")


@click.command("create-admin")
@with_appcontext
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="Admin", show_default=True)
def create_admin(email: str, password: str, name: str) -> None:
    """Create an admin account."""
    admin = _checked_admin(email, password, name)
    try:
        services.create_user(
            email=admin.email, password=admin.password, name=admin.name, is_admin=True
        )
    except EmailTakenError:
        raise click.ClickException(f"A user with the email {admin.email} already exists.") from None
    click.echo(f"Created admin {admin.email}.")


@click.command("prune-tokens")
@with_appcontext
def prune_tokens() -> None:
    """Delete deny-list entries and refresh-token records that have expired."""
    click.echo(f"Removed {tokens.prune_expired()} expired rows.")


def init_app(app: Flask) -> None:
    app.cli.add_command(bootstrap_admin)
    app.cli.add_command(create_admin)
    app.cli.add_command(prune_tokens)
