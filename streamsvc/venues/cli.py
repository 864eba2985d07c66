"""`streamsvc venue create`: a first venue and its admin key, without the HTTP API."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from config.settings import Settings
from streamsvc.db import Database, make_engine
from streamsvc.errors import ServiceError
from streamsvc.kit.clock import SystemClock
from streamsvc.venues.schemas import VenueCreate
from streamsvc.venues.service import create_venue


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    venue = sub.add_parser("venue", help="manage venues")
    venue_sub = venue.add_subparsers(dest="venue_command", required=True)
    create = venue_sub.add_parser("create", help="create a venue and print its admin key")
    create.add_argument("--name", required=True)
    create.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. NL")
    create.add_argument("--currency", required=True, help="ISO 4217, e.g. EUR")
    create.add_argument("--timezone", required=True, help="IANA, e.g. Europe/Amsterdam")
    create.add_argument("--slug", default=None)


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
    database = Database(make_engine(settings.require("database_url"), pool_size=1))
    try:
        with database.unit_of_work() as uow:
            venue, _key, clear = create_venue(uow.session, data, SystemClock().now())
    except ServiceError as exc:
        print(f"streamsvc: {exc.message}")
        return 1
    finally:
        database.dispose()
    print(f"venue     {venue.id} ({venue.slug})")
    print(f"admin key {clear}")
    print("Keep the key safe: it is shown only this once.")
    return 0
