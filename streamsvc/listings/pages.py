"""The audience's pages of the catalogue: `/`, `/venues/{venue_id}`, `/events/{event_id}`.

Thin, as routes are: they call the listings use cases (the same as the JSON API's,
cached there) and render. The event page's order form posts back to
`/events/{event_id}`, handled by streamsvc/orders/buy_form.py (buying is the orders'
business; it shows this page again, through `show_event`, when the order is refused).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import NotFound
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.http.security import allow_framing
from streamsvc.listings import service
from streamsvc.listings.filter_words import catalogue_filter
from streamsvc.listings.filters import CatalogueFilter
from streamsvc.listings.jsonld import event_jsonld
from streamsvc.listings.passes import PassCard, passes_on_sale
from streamsvc.listings.schemas import EventListing, TierListing
from streamsvc.venues.service import get_venue
from streamsvc.web.countries import country_choices
from streamsvc.web.errors import PageErrors
from streamsvc.web.rendering import language, render

_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def path_id(request: Request, name: str) -> str:
    value = request.path_params[name]
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise NotFound("No such page.")
    return value


def _base_url(request: Request) -> str:
    base: str = request.app.state.resources.settings.public_url
    return base.rstrip("/")


def lowest_price(event: EventListing) -> int | None:
    """What the cheapest ticket on sale costs (a pay-what-you-want tier: its minimum)."""
    prices = [
        tier.pay_what_you_want.min_amount if tier.pay_what_you_want else tier.price_amount
        for tier in event.tiers
        if tier.on_sale_now
    ]
    return min(prices, default=None)


def _cards(events: list[EventListing]) -> list[dict[str, Any]]:
    return [
        {
            "event": event,
            "lowest": lowest_price(event),
            "sold_out": bool(event.tiers) and all(tier.sold_out for tier in event.tiers),
        }
        for event in events
    ]


async def catalogue(request: Request) -> Response:
    """The events on sale or live, of every venue, in start order; narrowed by the
    filters of listings/filters.py (words beside a field that is not right)."""
    resources = request.app.state.resources
    now, base = resources.clock.now(), _base_url(request)
    typed, filters, errors = catalogue_filter(request)
    choices = await resources.catalogue.get(
        ("filter-choices",),
        now,
        lambda: in_unit_of_work(request, lambda uow: service.filter_choices(uow.session)),
    )
    context: dict[str, Any] = {"typed": typed, "errors": errors, "venues": choices[0],
                               "cities": choices[1], "filtered": False, "cards": []}  # fmt: skip
    if filters is None:
        return render(request, "catalogue.html", context, status=422)
    events = await resources.catalogue.get(
        ("upcoming", base, *filters.key()),
        now,
        lambda: in_unit_of_work(
            request, lambda uow: service.upcoming(uow.session, now, base, filters=filters)
        ),
    )
    context.update(cards=_cards(events), filtered=not filters.empty)
    # Season passes span many events: shown beside the unfiltered catalogue only.
    context["passes"] = await season_passes(request, None) if filters.empty else []
    return render(request, "catalogue.html", context)


async def season_passes(request: Request, venue_id: str | None) -> list[PassCard]:
    """The season passes on sale (of one venue), cached like the events."""
    resources = request.app.state.resources
    now = resources.clock.now()
    found: list[PassCard] = await resources.catalogue.get(
        ("passes", venue_id or ""),
        now,
        lambda: in_unit_of_work(request, lambda uow: passes_on_sale(uow.session, now, venue_id)),
    )
    return found


async def venue_page(request: Request) -> Response:
    """One venue's events on sale or live."""
    venue_id = path_id(request, "venue_id")
    resources = request.app.state.resources
    now, base = resources.clock.now(), _base_url(request)

    def load(uow: UnitOfWork) -> tuple[str, list[EventListing]]:
        venue = get_venue(uow.session, venue_id)
        if venue.suspended_at is not None:  # closed by the platform operator
            raise NotFound("No such venue.")
        mine = CatalogueFilter(venue=venue_id)
        return venue.name, service.upcoming(uow.session, now, base, filters=mine)

    name, events = await resources.catalogue.get(
        ("venue", venue_id, base), now, lambda: in_unit_of_work(request, load)
    )
    passes = await season_passes(request, venue_id)
    return render(request, "venue.html",
                  {"venue_name": name, "cards": _cards(events), "passes": passes})  # fmt: skip


# --- the event page and its order form ------------------------------------------


@dataclass
class TierChoice:
    """One tier on the event page: what it is and what the buyer may choose of it."""

    tier: TierListing
    max_quantity: int  # 0: cannot be chosen (sold out or not on sale)
    quantity_field: str
    amount_field: str


@dataclass
class Entered:
    """What the buyer typed, kept when the page is shown again with errors."""

    quantities: dict[str, int]
    amounts: dict[str, str]
    email: str = ""
    country: str = ""


def tier_choices(event: EventListing, order_max: int) -> list[TierChoice]:
    choices = []
    for tier in event.tiers:
        most = order_max if tier.available is None else min(order_max, tier.available)
        choices.append(
            TierChoice(
                tier=tier,
                max_quantity=most if tier.on_sale_now else 0,
                quantity_field=f"quantity-{tier.id}",
                amount_field=f"amount-{tier.id}",
            )
        )
    return choices


async def load_event(request: Request, event_id: str, *, fresh: bool = False) -> EventListing:
    resources = request.app.state.resources
    now, base = resources.clock.now(), _base_url(request)
    listing: EventListing = await resources.catalogue.get(
        ("event", event_id, base),
        now,
        lambda: in_unit_of_work(
            request, lambda uow: service.get_event(uow.session, event_id, now, base)
        ),
        fresh=fresh,
    )
    return listing


def show_event(
    request: Request,
    event: EventListing,
    *,
    entered: Entered | None = None,
    errors: PageErrors | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    resources = request.app.state.resources
    lang = language(request)
    choices = tier_choices(event, resources.settings.order_max_quantity)
    selling = any(choice.max_quantity > 0 for choice in choices)
    entered = entered or Entered(quantities={}, amounts={})
    # Most buyers watch from the venue's country: offered first, where it may buy.
    allowed = not event.allowed_countries or event.venue.country in event.allowed_countries
    if not entered.country and allowed:
        entered.country = event.venue.country
    context = {
        "event": event,
        "choices": choices,
        "selling": selling,
        "doors_open": event.starts_at - timedelta(minutes=event.doors_open_minutes),
        "jsonld": event_jsonld(event, resources.clock.now()),
        "countries": country_choices(lang, event.allowed_countries),
        "entered": entered,
        "errors": errors or PageErrors(),
        # A fresh key per showing of the form: pressing Pay twice buys once.
        "attempt": secrets.token_urlsafe(18),
    }
    return render(request, "event.html", context, status=status, headers=headers)


async def event_page(request: Request) -> Response:
    event = await load_event(request, path_id(request, "event_id"))
    # The venue's own site may frame the page (its embed snippet, set in the console).
    resources = request.app.state.resources
    origins = await resources.catalogue.get(
        ("embed", event.venue.id),
        resources.clock.now(),
        lambda: in_unit_of_work(
            request, lambda uow: list(get_venue(uow.session, event.venue.id).embed_origins)
        ),
    )
    allow_framing(request, origins)
    return show_event(request, event)


routes = [
    Route("/", catalogue, methods=["GET"], include_in_schema=False),
    Route("/venues/{venue_id}", venue_page, methods=["GET"], include_in_schema=False),
    Route("/events/{event_id}", event_page, methods=["GET"], include_in_schema=False),
]
