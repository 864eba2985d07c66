"""Setting up a season pass: the product, its series of events, publishing it.

Used by the console (passes/console_pages.py) and the tests; every change by staff
goes to the audit log. What a pass covers may grow (an event added later is covered
by the passes sold from then on) but a covered event is never taken out of a pass
once one has been sold: its holders paid for it. A date-range pass's events are not
chosen here: passes/coverage.py puts in every event of its dates, and none leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier
from streamsvc.errors import Conflict, NotFound, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.passes.coverage import sync_date_range
from streamsvc.passes.models import MAX_EVENTS as MAX_EVENTS  # noqa: PLC0414 (console reads it)
from streamsvc.passes.models import (
    Coverage,
    LateRefund,
    PassEvent,
    PassHolding,
    PassProduct,
    Weighting,
)
from streamsvc.venues.tenancy import owned

MAX_PRICE = 10_000_000  # minor units: a hundred thousand in the currency


@dataclass(frozen=True)
class PassSetup:
    """What staff set on a pass (create and edit alike)."""

    name: str
    description: str
    price_amount: int  # VAT included
    vat_rate_bps: int
    currency: str
    capacity: int | None
    sales_start: datetime | None
    sales_end: datetime | None
    max_claims: int | None
    transferable: bool
    weighting: Weighting
    late_refund: LateRefund
    # What it covers: a series staff choose, or every event starting in [from, until).
    coverage: Coverage = Coverage.series
    covers_from: datetime | None = None
    covers_until: datetime | None = None


def _check(setup: PassSetup) -> None:
    problems: dict[str, str] = {}
    if not setup.name.strip() or len(setup.name) > 200:
        problems["name"] = "1 to 200 characters"
    if len(setup.description) > 10_000:
        problems["description"] = "at most 10000 characters"
    if not 0 <= setup.price_amount <= MAX_PRICE:
        problems["price_amount"] = f"0 to {MAX_PRICE}"
    if not 0 <= setup.vat_rate_bps <= 10_000:
        problems["vat_rate_bps"] = "0 to 10000"
    if len(setup.currency) != 3 or not setup.currency.isalpha():
        problems["currency"] = "an ISO 4217 code"
    if setup.capacity is not None and not 0 <= setup.capacity <= 1_000_000:
        problems["capacity"] = "0 to 1000000, or empty for unlimited"
    if setup.max_claims is not None and not 1 <= setup.max_claims <= MAX_EVENTS:
        problems["max_claims"] = f"1 to {MAX_EVENTS}, or empty for every event"
    if setup.sales_start and setup.sales_end and setup.sales_end <= setup.sales_start:
        problems["sales_end"] = "after the start of sales"
    problems.update(_range_problems(setup))
    if problems:
        raise ValidationFailed("The pass is not valid.", fields=problems)


def _range_problems(setup: PassSetup) -> dict[str, str]:
    bounds = {"covers_from": setup.covers_from, "covers_until": setup.covers_until}
    if setup.coverage is Coverage.series:
        return {name: "only for a date range" for name, at in bounds.items() if at is not None}
    problems = {name: "required for a date range" for name, at in bounds.items() if at is None}
    start, end = setup.covers_from, setup.covers_until
    if start is not None and end is not None and end <= start:
        problems["covers_until"] = "after the start of the range"
    return problems


def _range_grew(product: PassProduct, setup: PassSetup) -> bool:
    """Is the pass's range set, or wider than it was (either end)?"""
    if setup.coverage is not Coverage.date_range:
        return False
    start, end = product.covers_from, product.covers_until
    if product.coverage is not Coverage.date_range or start is None or end is None:
        return True
    assert setup.covers_from is not None and setup.covers_until is not None  # _check
    return setup.covers_from < start or setup.covers_until > end


def _range_audit(product: PassProduct) -> dict[str, object]:
    start, end = product.covers_from, product.covers_until
    return {"coverage": product.coverage.value,
            "covers_from": start.isoformat() if start else None,
            "covers_until": end.isoformat() if end else None}  # fmt: skip


def create_pass(session: Session, venue_id: str, setup: PassSetup, now: datetime) -> PassProduct:
    _check(setup)
    product = PassProduct(
        id=new_id("pas"), venue_id=venue_id, name=setup.name.strip(),
        description=setup.description, price_amount=setup.price_amount,
        vat_rate_bps=setup.vat_rate_bps, currency=setup.currency.upper(),
        capacity=setup.capacity, sales_start=setup.sales_start, sales_end=setup.sales_end,
        max_claims=setup.max_claims, transferable=setup.transferable,
        weighting=setup.weighting, late_refund=setup.late_refund,
        created_at=now, updated_at=now, coverage=setup.coverage,
        covers_from=setup.covers_from, covers_until=setup.covers_until,
        range_changed_at=now if setup.coverage is Coverage.date_range else None,
    )  # fmt: skip
    session.add(product)
    session.flush()
    audit.record(session, venue_id=venue_id, action="pass.created", object_type="pass",
                 object_id=product.id, changes={"price_amount": setup.price_amount,
                                                "currency": product.currency,
                                                **_range_audit(product)})  # fmt: skip
    sync_date_range(session, product, now)
    return product


def sold_count(session: Session, pass_id: str) -> int:
    query = select(func.count()).select_from(PassHolding).where(PassHolding.pass_id == pass_id)
    return int(session.exec(query).one())


def update_pass(
    session: Session, venue_id: str, pass_id: str, setup: PassSetup, now: datetime
) -> PassProduct:
    """Change a pass; its price, VAT, currency and weighting are fixed once one is sold
    (the money of sold passes was divided by them)."""
    _check(setup)
    product = owned(session, PassProduct, pass_id, venue_id, lock=True)
    fixed = {"price_amount": setup.price_amount, "vat_rate_bps": setup.vat_rate_bps,
             "currency": setup.currency.upper(), "weighting": setup.weighting}  # fmt: skip
    changes = {name: audit.change(getattr(product, name), value)
               for name, value in fixed.items() if getattr(product, name) != value}  # fmt: skip
    if changes and sold_count(session, product.id) > 0:
        raise Conflict("Price, VAT, currency and weighting cannot change once passes are sold.",
                       code="pass_sold",
                       fields={name: "fixed once sold" for name in changes})  # fmt: skip
    if setup.capacity is not None and setup.capacity < product.sold + product.held:
        raise ValidationFailed("The pass is not valid.",
                               fields={"capacity":
                                       f"at least {product.sold + product.held}"})  # fmt: skip
    for name, value in {**fixed, "name": setup.name.strip(), "description": setup.description,
                        "capacity": setup.capacity, "sales_start": setup.sales_start,
                        "sales_end": setup.sales_end, "max_claims": setup.max_claims,
                        "transferable": setup.transferable,
                        "late_refund": setup.late_refund}.items():  # fmt: skip
        setattr(product, name, value)
    before = _range_audit(product)
    if _range_grew(product, setup):
        product.range_changed_at = now  # events it brings in: for passes sold from now
    elif setup.coverage is Coverage.series:
        product.range_changed_at = None
    product.coverage = setup.coverage
    product.covers_from, product.covers_until = setup.covers_from, setup.covers_until
    after = _range_audit(product)
    changes.update({name: audit.change(before[name], value)
                    for name, value in after.items() if before[name] != value})  # fmt: skip
    product.updated_at = now
    session.add(product)
    audit.record(session, venue_id=venue_id, action="pass.updated", object_type="pass",
                 object_id=product.id, changes=changes)  # fmt: skip
    sync_date_range(session, product, now)
    return product


def set_published(
    session: Session, venue_id: str, pass_id: str, published: bool, now: datetime
) -> PassProduct:
    product = owned(session, PassProduct, pass_id, venue_id, lock=True)
    if published and not covered_events(session, product.id):
        if product.coverage is Coverage.date_range:
            raise Conflict("No event of the venue that can be claimed starts in the pass's "
                           "dates yet.", code="pass_range_empty")  # fmt: skip
        raise Conflict("A pass covers at least one event before it is sold.",
                       code="pass_without_events")  # fmt: skip
    before, product.published, product.updated_at = product.published, published, now
    session.add(product)
    audit.record(session, venue_id=venue_id, action="pass.published" if published
                 else "pass.withdrawn", object_type="pass", object_id=product.id,
                 changes={"published": audit.change(before, published)})  # fmt: skip
    return product


def add_event(
    session: Session, venue_id: str, pass_id: str, event_id: str, *, tier_id: str, now: datetime
) -> PassEvent:
    """Put an event in the pass's series, with the tier its holders take; passes sold
    from now on cover it (and share their money with it)."""
    product = owned(session, PassProduct, pass_id, venue_id, lock=True)
    _refuse_date_range(product)
    event = owned(session, Event, event_id, venue_id)
    tier = session.get(Tier, tier_id)
    if tier is None or tier.event_id != event.id:
        raise ValidationFailed("The pass is not valid.", fields={"tier_id": "a tier of the event"})
    if event.currency != product.currency:
        raise ValidationFailed("The pass is not valid.",
                               fields={"event_id":
                                       f"an event sold in {product.currency}"})  # fmt: skip
    if status_of(event, now) in (EventStatus.cancelled, EventStatus.ended):
        raise Conflict("An ended or cancelled event cannot join a pass.", code="event_over")
    existing = session.get(PassEvent, (product.id, event.id))
    if existing is not None:
        if existing.tier_id != tier.id:
            existing.tier_id = tier.id  # the tier holders take; the money is not touched
            session.add(existing)
        return existing
    if len(covered_events(session, product.id)) >= MAX_EVENTS:
        raise Conflict(f"A pass covers at most {MAX_EVENTS} events.", code="too_many_events")
    row = PassEvent(pass_id=product.id, event_id=event.id, tier_id=tier.id, added_at=now)
    session.add(row)
    audit.record(session, venue_id=venue_id, action="pass.event_added", object_type="pass",
                 object_id=product.id,
                 changes={"event_id": event.id, "tier_id": tier.id})  # fmt: skip
    return row


def _refuse_date_range(product: PassProduct) -> None:
    if product.coverage is Coverage.date_range:
        raise Conflict("This pass covers every event of the venue in its dates: they are "
                       "added by themselves, and stay.", code="pass_covers_dates")  # fmt: skip


def remove_event(session: Session, venue_id: str, pass_id: str, event_id: str) -> None:
    product = owned(session, PassProduct, pass_id, venue_id, lock=True)
    _refuse_date_range(product)
    row = session.get(PassEvent, (product.id, event_id))
    if row is None:
        raise NotFound("The pass does not cover that event.")
    sold_since = session.exec(
        select(func.count()).select_from(PassHolding).where(
            PassHolding.pass_id == product.id, col(PassHolding.created_at) >= row.added_at
        )
    ).one()  # fmt: skip
    if sold_since:
        raise Conflict("Passes covering this event are sold; it stays in the pass.",
                       code="pass_sold")  # fmt: skip
    session.delete(row)
    audit.record(session, venue_id=venue_id, action="pass.event_removed", object_type="pass",
                 object_id=product.id, changes={"event_id": event_id})  # fmt: skip


def covered_events(session: Session, pass_id: str) -> list[tuple[PassEvent, Event]]:
    """The pass's series, in start order."""
    rows = session.exec(
        select(PassEvent, Event).join(Event, col(Event.id) == col(PassEvent.event_id))
        .where(PassEvent.pass_id == pass_id)
        .order_by(col(Event.starts_at), col(Event.id))
    ).all()  # fmt: skip
    return [(pe, event) for pe, event in rows]


def venue_passes(session: Session, venue_id: str) -> list[PassProduct]:
    query = select(PassProduct).where(PassProduct.venue_id == venue_id)
    return list(session.exec(query.order_by(col(PassProduct.created_at), col(PassProduct.id))))
