"""`streamsvc venue create`: a first venue, its admin key and, with --admin-email, its
first admin person, without the HTTP API. The person's one-time link to set a password
is printed (not mailed): whoever runs the command hands it over."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.errors import ServiceError
from streamsvc.kit.clock import SystemClock
from streamsvc.staff.service import add_member
from streamsvc.venues.schemas import VenueCreate
from streamsvc.venues.service import create_venue


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    venue = sub.add_parser("venue", help="manage venues")
    venue_sub = venue.add_subparsers(dest="venue_command", required=True)
    create = venue_sub.add_parser(
        "create", help="create a venue, print its admin key and its first admin's link"
    )
    create.add_argument("--name", required=True)
    create.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. NL")
    create.add_argument("--currency", required=True, help="ISO 4217, e.g. EUR")
    create.add_argument("--timezone", required=True, help="IANA, e.g. Europe/Amsterdam")
    create.add_argument("--slug", default=None)
    create.add_argument(
        "--admin-email",
        default=None,
        help="the first admin: made a person of the console; prints a one-time link "
        "(72 hours) to set a password",
    )
    create.add_argument("--admin-name", default="", help="the first admin's name")


def run_create(settings: Settings, args: argparse.Namespace) -> int:
    try:
        data = VenueCreate(
            name=args.name,
            slug=args.slug,
            country=args.country,
            currency=args.currency,
            timezone=args.timezone,
        )
    except ValidationError as exc:
        for error in exc.errors():
            print(f"streamsvc: --{error['loc'][0]}: {error['msg']}")
        return 2
    email = (args.admin_email or "").strip().lower()
    if args.admin_email is not None and ("@" not in email or len(email) > 254):
        print("streamsvc: --admin-email: not an e-mail address")
        return 2
    database = Database(make_engine(settings.require("database_url"), pool_size=1))
    link = None
    try:
        with database.unit_of_work() as uow:
            now = SystemClock().now()
            venue, _key, clear = create_venue(uow.session, data, now)
            if email:
                _, link = add_member(
                    uow.session,
                    settings,
                    venue_id=venue.id,
                    email=email,
                    name=args.admin_name,
                    role="admin",
                    now=now,
                    mail=False,
                )
    except ServiceError as exc:
        print(f"streamsvc: {exc.message}")
        return 1
    finally:
        database.dispose()
    print(f"venue     {venue.id} ({venue.slug})")
    print(f"admin key {clear}")
    print("Keep the key safe: it is shown only this once.")
    if link is not None:
        print(f"admin     {email}: set a password with this link (once, within 72 hours):")
        print(link)
    return 0
