"""Public catalogue routes (no key): JSON, JSON-LD (schema.org) and iCalendar."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.kit.pagination import Page
from streamsvc.listings import service
from streamsvc.listings.filters import CatalogueQuery
from streamsvc.listings.ical import calendar
from streamsvc.listings.jsonld import event_jsonld
from streamsvc.listings.schemas import EventListing

TAGS = ("public",)
ListingPage = Page[EventListing]


def _base_url(call: Call) -> str:
    return call.settings.public_url.rstrip("/")


@endpoint(
    summary="Events on sale or live, of every venue, with tiers and availability; "
    "filtered by venue, city, dates (the events' local dates) and attendance mode",
    tags=TAGS, access=Access.public, query=CatalogueQuery, response=ListingPage,
)  # fmt: skip
def list_events(call: Call, query: CatalogueQuery) -> ListingPage:
    rows, cursor = service.list_events(
        call.session, query, call.clock.now(), _base_url(call), query.filter()
    )
    return ListingPage(data=rows, next_cursor=cursor)


@endpoint(
    summary="One event; with `Accept: application/ld+json` a schema.org Event",
    tags=TAGS, access=Access.public, response=EventListing, errors=(404,),
)  # fmt: skip
def get_event(call: Call) -> EventListing | Response:
    now = call.clock.now()
    listing = service.get_event(call.session, call.path("event_id"), now, _base_url(call))
    if "application/ld+json" in call.request.headers.get("accept", ""):
        return JSONResponse(event_jsonld(listing, now), media_type="application/ld+json")
    return listing


@endpoint(
    summary="iCalendar feed of the events on sale or live",
    tags=TAGS, access=Access.public, response="text/calendar",
)  # fmt: skip
def events_ics(call: Call) -> Response:
    now = call.clock.now()
    events = service.upcoming(call.session, now, _base_url(call))
    return Response(calendar(events, now), media_type="text/calendar; charset=utf-8")


routes = [
    Route("/v1/public/events", list_events, methods=["GET"]),
    # Before {event_id}, so that "events.ics" is not taken for an id.
    Route("/v1/public/events.ics", events_ics, methods=["GET"]),
    Route("/v1/public/events/{event_id}", get_event, methods=["GET"]),
]
