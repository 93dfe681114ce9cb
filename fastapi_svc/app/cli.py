"""Command line: ``python -m app.cli bootstrap-admin`` and ``python -m app.cli create-admin``."""

import argparse
import asyncio
import getpass
import sys

from pydantic import ValidationError

from app import errors, services
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.schemas import UserCreate


async def bootstrap_admin(settings: Settings) -> str:
    """The FIRST_ADMIN_* admin exists afterwards (idempotent, race-safe)."""
    if not (settings.first_admin_email and settings.first_admin_password):
        return "FIRST_ADMIN_EMAIL and FIRST_ADMIN_PASSWORD are not both set: nothing to do."
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            user = await services.ensure_first_admin(
                session,
                settings,
                email=settings.first_admin_email,
                password=settings.first_admin_password,
            )
    finally:
        await engine.dispose()
    if user is None:
        return "The first admin's email is already registered: left as it is."
    return f"Created the first admin (id {user.id})."


async def create_admin(settings: Settings, *, email: str, password: str, name: str) -> str:
    data = UserCreate(email=email, password=password, name=name)
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            user = await services.create_user(session, settings, data=data, is_admin=True)
    finally:
        await engine.dispose()
    return f"Created admin {user.email} (id {user.id})."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("bootstrap-admin", help="create the admin from FIRST_ADMIN_EMAIL/PASSWORD")
    create = commands.add_parser("create-admin", help="create an admin account")
    create.add_argument("--email", required=True)
    create.add_argument("--password", help="asked for (twice, not shown) when left out")
    create.add_argument("--name", default="Admin")
    args = parser.parse_args(argv)
    if args.command == "create-admin" and args.password is None:
        # As Django's createsuperuser and Flask's create-admin do: not in the shell history.
        args.password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat for confirmation: ") != args.password:
            print("error: the two passwords differ", file=sys.stderr)
            return 1

    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    try:
        if args.command == "bootstrap-admin":
            message = asyncio.run(bootstrap_admin(settings))
        else:
            message = asyncio.run(
                create_admin(settings, email=args.email, password=args.password, name=args.name)
            )
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            print(f"error: {field}: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 1
    except errors.EmailTakenError:
        print(f"error: {errors.EMAIL_TAKEN}", file=sys.stderr)
        return 1
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
