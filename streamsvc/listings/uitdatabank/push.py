"""Pushing an event to UiTdatabank: the use case behind the `listings.push_event` task.

Which events: those with a UiTdatabank event type, once published. An event is sent
as a whole (POST the first time, PUT with the remembered id after), and a cancelled
one gets the status Unavailable; an event whose type was cleared after it was listed
is withdrawn the same way. Ended events are left alone: UiTdatabank hides an event
past its end itself.

Idempotent: the push row of the event is locked for the whole push, so two workers
never both create it; the id UiTdatabank answered is stored with the digest of the
body it accepted, so an unchanged event is not sent again (unless an admin asks,
`force`). A transient failure leaves the row `pending` with its reason and asks the
task to retry; a permanent one (or the last retry) marks it `failed` with the reason
the console shows. One window remains: UiTdatabank accepting a POST and our commit then
failing (the database gone at that instant); the retry then creates the event a
second time, which UiTdatabank's own duplicate check and its editors catch.

The lock is held during the HTTP call (at most the client's timeouts): only pushes of
the same event wait for each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, select

from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.listing_pushes import ListingPush, PushState
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import Database
from streamsvc.listings.uitdatabank.client import EntryApi, EntryApiError
from streamsvc.listings.uitdatabank.mapping import (
    Unlistable,
    cancelled_status,
    digest,
    event_body,
    listed,
)
from streamsvc.venues.models import Venue


@dataclass(frozen=True)
class Target:
    """Where listings go: our public site (event pages) and the language we write in."""

    public_url: str
    language: str

    def event_url(self, event_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/events/{event_id}"


@dataclass(frozen=True)
class Outcome:
    action: str  # created | updated | cancelled | unchanged | skipped | refused | retry
    detail: str = ""

    @property
    def retry(self) -> bool:
        return self.action == "retry"


def offered(event: Event, now: datetime) -> bool:
    """Whether the event should be listed now (typed, published, not over)."""
    status = status_of(event, now)
    return event.uitdatabank_type is not None and status in (EventStatus.on_sale, EventStatus.live)


def push_event(
    database: Database, api: EntryApi, event_id: str, now: datetime, target: Target,
    *, force: bool = False,
) -> Outcome:  # fmt: skip
    """Bring UiTdatabank's listing of the event up to date; see the module docstring."""
    with database.unit_of_work() as uow:
        session = uow.session
        event = session.get(Event, event_id)
        skip = _nothing_to_do(session, event, now)
        if skip or event is None:
            return Outcome("skipped", skip)
        row = _locked_row(session, event_id, now)
        if _withdrawn(event, now):
            return _withdraw(session, api, row, now, target=target, force=force)
        return _list(session, api, event, row, now, target=target, force=force)


def _withdrawn(event: Event, now: datetime) -> bool:
    """Cancelled, or its type cleared: UiTdatabank should show it as unavailable."""
    return status_of(event, now) is EventStatus.cancelled or event.uitdatabank_type is None


def _nothing_to_do(session: Session, event: Event | None, now: datetime) -> str:
    """Why the event needs no push ("" when it does)."""
    if event is None:
        return "no such event"
    row = session.get(ListingPush, event.id)
    if _withdrawn(event, now):
        return "" if row is not None and row.uitdatabank_id is not None else "not listed"
    return "" if offered(event, now) else "not offered now"


def _list(
    session: Session, api: EntryApi, event: Event, row: ListingPush, now: datetime,
    *, target: Target, force: bool,
) -> Outcome:  # fmt: skip
    venue = session.get(Venue, event.venue_id)
    assert venue is not None
    tiers = session.exec(select(Tier).where(Tier.event_id == event.id)).all()
    try:
        body = event_body(
            listed(event, venue, tiers), event_url=target.event_url(event.id),
            entry_url=api.entry_url, language=target.language,
        )  # fmt: skip
    except Unlistable as refused:
        return _failed(session, row, now, str(refused), "refused")
    fingerprint = digest(body)
    same = row.pushed_digest == fingerprint and row.pushed_status == "Available"
    if same and not force and row.state == PushState.sent and row.uitdatabank_id is not None:
        return Outcome("unchanged")
    try:
        if row.uitdatabank_id is None:
            row.uitdatabank_id, action = api.create_event(body), "created"
        else:
            api.update_event(row.uitdatabank_id, body)
            action = "updated"
    except EntryApiError as error:
        return _failed(session, row, now, str(error), "retry" if error.transient else "refused")
    _sent(session, row, now, fingerprint, "Available")
    return Outcome(action, row.uitdatabank_id)


def _withdraw(
    session: Session, api: EntryApi, row: ListingPush, now: datetime,
    *, target: Target, force: bool,
) -> Outcome:  # fmt: skip
    assert row.uitdatabank_id is not None
    if not force and row.state == PushState.sent and row.pushed_status == "Unavailable":
        return Outcome("unchanged")
    try:
        api.set_status(row.uitdatabank_id, cancelled_status(target.language))
    except EntryApiError as error:
        return _failed(session, row, now, str(error), "retry" if error.transient else "refused")
    _sent(session, row, now, row.pushed_digest, "Unavailable")
    return Outcome("cancelled", row.uitdatabank_id)


def _locked_row(session: Session, event_id: str, now: datetime) -> ListingPush:
    """The event's push row, created if missing, locked until the commit."""
    session.execute(
        insert(ListingPush)
        .values(event_id=event_id, state=PushState.pending.value, attempts=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return session.exec(
        select(ListingPush)
        .where(col(ListingPush.event_id) == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _sent(session: Session, row: ListingPush, now: datetime, fingerprint: str | None,
          status: str) -> None:  # fmt: skip
    row.state, row.pushed_digest, row.pushed_status = PushState.sent.value, fingerprint, status
    row.pushed_at, row.updated_at, row.attempts, row.last_error = now, now, 0, None
    session.add(row)


def _failed(session: Session, row: ListingPush, now: datetime, reason: str, action: str) -> Outcome:
    row.state = (PushState.pending if action == "retry" else PushState.failed).value
    row.attempts += 1
    row.last_error, row.updated_at = reason[:2000], now
    session.add(row)
    return Outcome(action, reason)


def give_up(database: Database, event_id: str, now: datetime) -> None:
    """After the last retry: the push is `failed`, with the last transient reason."""
    with database.unit_of_work() as uow:
        row = uow.session.get(ListingPush, event_id, with_for_update=True)
        if row is not None and row.state == PushState.pending:
            row.state, row.updated_at = PushState.failed.value, now
            uow.session.add(row)


def offered_event_ids(database: Database, venue_id: str, now: datetime) -> list[str]:
    """The venue's events to push again when its place changes: offered or listed."""
    with database.unit_of_work() as uow:
        typed = uow.session.exec(
            select(Event).where(
                Event.venue_id == venue_id, col(Event.uitdatabank_type).is_not(None)
            )
        ).all()
        return sorted(event.id for event in typed if offered(event, now))


def mark_pending(session: Session, event_id: str, now: datetime) -> None:
    """An admin asked to push again: shown as pending until the worker has done it."""
    row = session.get(ListingPush, event_id, with_for_update=True)
    if row is None:
        row = ListingPush(event_id=event_id, state=PushState.pending.value, updated_at=now)
    row.state, row.updated_at = PushState.pending.value, now
    session.add(row)
