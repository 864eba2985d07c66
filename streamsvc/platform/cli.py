"""`streamsvc platform-admin create --email`: a platform admin, without the HTTP API.
Prints the one-time link (72 hours) to set a password; at the first login the admin
sets up two-factor authentication, which the platform console always requires."""

from __future__ import annotations

import argparse

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.errors import ServiceError
from streamsvc.kit.clock import SystemClock
from streamsvc.platform.admins import create_platform_admin


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = sub.add_parser("platform-admin", help="manage the platform operator's staff")
    admin_sub = admin.add_subparsers(dest="platform_admin_command", required=True)
    create = admin_sub.add_parser(
        "create", help="make a platform admin and print their link to set a password"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="", help="the admin's name")


def run_create(settings: Settings, args: argparse.Namespace) -> int:
    email = args.email.strip().lower()
    if "@" not in email or len(email) > 254 or len(args.name) > 200:
        print(
            "streamsvc: --email: not an e-mail address"
            if "@" not in email or len(email) > 254
            else "streamsvc: --name: at most 200 characters"
        )
        return 2
    database = Database(make_engine(settings.require("database_url"), pool_size=1))
    try:
        with database.unit_of_work() as uow:
            person, link = create_platform_admin(
                uow.session, settings, email, args.name, SystemClock().now()
            )
            person_id = person.id
    except ServiceError as exc:
        print(f"streamsvc: {exc.message}")
        return 1
    finally:
        database.dispose()
    print(f"platform admin {email} ({person_id})")
    if link is None:
        print("They log in with their password, then a one-time code.")
    else:
        print("Set a password with this link (once, within 72 hours):")
        print(link)
    return 0
