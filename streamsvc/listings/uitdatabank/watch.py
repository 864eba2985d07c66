"""Raise ListingChanged from every unit of work that changes what UiTdatabank lists.

Like the catalogue cache's watcher (listings/cache.py), it looks at what a flush
writes, so every way of changing an event counts: the API, the console, cancelling,
rescheduling. It raises the durable ListingChanged for an event offered to UiTdatabank
(one with an event type, published) whose row or tiers changed, and for one whose type
was just cleared (to withdraw it); VenueListingsChanged when a venue's UiTdatabank
place changes. Events without a type (never offered) raise nothing, so an installation
that does not list writes no outbox rows for it. The push itself decides what to send,
and sends nothing when what UiTdatabank has is still right.

The sold and held counts of tiers change by SQL updates, not through the ORM, and are
not listed: a sale raises nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from sqlalchemy.orm import Session as OrmSession

from config.settings import Settings
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import EventSession, emit
from streamsvc.listings.events import ListingChanged, VenueListingsChanged
from streamsvc.outbox.bus import MessageBus
from streamsvc.venues.models import Venue


def _changed(session: OrmSession, obj: Any) -> bool:
    return obj in session.new or obj in session.deleted or session.is_modified(obj)


def _type_changed(event: Event) -> bool:
    return bool(inspect(event).attrs.uitdatabank_type.history.has_changes())


def _raise_on_listing_writes(session: OrmSession, _context: Any, _instances: Any) -> None:
    if not isinstance(session, EventSession):
        return
    raised = {e.event_id for e in session.events if isinstance(e, ListingChanged)}
    venues = {e.venue_id for e in session.events if isinstance(e, VenueListingsChanged)}
    touched: dict[str, Event] = {}
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Event) and _changed(session, obj):
            touched[obj.id] = obj
        elif isinstance(obj, Tier) and _changed(session, obj) and obj.event_id not in touched:
            with session.no_autoflush:
                owner = session.get(Event, obj.event_id)
            if owner is not None:
                touched[owner.id] = owner
        elif (isinstance(obj, Venue) and obj.id not in venues and obj not in session.new
              and inspect(obj).attrs.uitdatabank_place_id.history.has_changes()):  # fmt: skip
            emit(session, VenueListingsChanged(obj.id))
            venues.add(obj.id)
    for event_id, event in touched.items():
        if event_id in raised or event.status == EventStatus.draft.value:
            continue
        if event.uitdatabank_type is not None or _type_changed(event):
            emit(session, ListingChanged(event_id))


def watch_listing_writes() -> None:
    """Idempotent: called by each bus built in a process (API and worker)."""
    if not sa_event.contains(EventSession, "before_flush", _raise_on_listing_writes):
        sa_event.listen(EventSession, "before_flush", _raise_on_listing_writes)


def wire_listings(bus: MessageBus, settings: Settings, enqueue: Callable[..., None]) -> None:
    """Watch the writes and hand the pushes to a worker (bootstrap.py calls this for the
    API and the worker alike). With STREAMSVC_UITDATABANK_URL unset, nothing is pushed:
    the events are still raised (and their outbox rows marked done), so an
    installation that turns pushing on later lists each event at its next change."""

    def push_listing(event: ListingChanged) -> None:
        if settings.uitdatabank_url:
            args = (event.event_id, "force") if event.force else (event.event_id,)
            enqueue("listings.push_event", *args)

    def push_venue_listings(event: VenueListingsChanged) -> None:
        if settings.uitdatabank_url:
            enqueue("listings.push_venue", event.venue_id)

    watch_listing_writes()
    bus.register(ListingChanged, push_listing)
    bus.register(VenueListingsChanged, push_venue_listings)
