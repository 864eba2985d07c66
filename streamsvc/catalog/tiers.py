"""Tiers: what a ticket buys, at what price, how many, and when on sale.

Price and capacity never drop below what is sold: capacity stays at or above
sold + held (the database enforces it too), and the price of a tier with sales
may rise but not fall, so no buyer paid more than the tier now costs. A price (and
a pay-what-you-want minimum) is 0 (free: its tickets are issued without a payment) or
at least what the payment provider can charge in the event's currency
(payments/minimums.py): a tier nobody can pay for is refused when it is priced, not
when the first buyer meets it.

A tier may include one of the venue's recordings for its holders for 1 to 365 days
after the event (`recording_id` with `recording_days`, both or neither; issued by
recordings/included.py). Once tickets are sold, what they include may grow (a
recording added, more days) but not shrink: it is part of what the buyers paid for.
The recordings are read with SQL on their table, as orders reads them: the recordings
package imports this one, so this one cannot import it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog import bundles
from streamsvc.catalog.events import status_of, tier_window_problems
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier
from streamsvc.catalog.schemas import (
    AccessPublic,
    ComponentPublic,
    PayWhatYouWantPublic,
    TierCreate,
    TierPublic,
    TierUpdate,
)
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.payments.minimums import charge_minimum
from streamsvc.venues.tenancy import owned

_VENUE_RECORDING = text("SELECT 1 FROM recordings WHERE id = :id AND venue_id = :venue_id")
_VENUE_RECORDINGS = text(
    "SELECT id, title FROM recordings WHERE venue_id = :venue_id ORDER BY title, id LIMIT 500"
)
NOT_A_RECORDING = "not one of the venue's recordings"
BOTH_OR_NEITHER = "set recording_id and recording_days together, or neither"


def create_tier(
    session: Session, venue_id: str, event_id: str, data: TierCreate, now: datetime
) -> Tier:
    event = owned(session, Event, event_id, venue_id, lock=True)
    _require_open(event, now)
    tier = Tier(
        id=new_id("tier"),
        event_id=event.id,
        venue_id=venue_id,
        name=data.name,
        price_amount=0,
        vat_rate_bps=data.vat_rate_bps,
        quality=data.access.quality,
        extras=[],
        in_venue=False,
        rewatch_hours=0,
        max_devices=1,
        on_device_limit="refuse",
        position=len(tiers_of(session, [event.id]).get(event.id, [])),
        created_at=now,
    )
    changes = data.model_dump(exclude_unset=True)
    _apply(tier, changes, event, creating=True,
           problems=_recording_problems(session, venue_id, changes))  # fmt: skip
    session.add(tier)
    session.flush()
    return tier


def update_tier(
    session: Session, venue_id: str, tier_id: str, data: TierUpdate, now: datetime
) -> Tier:
    # Lock the event first, then the tier: the same order as every other writer.
    tier = owned(session, Tier, tier_id, venue_id)
    event = owned(session, Event, tier.event_id, venue_id, lock=True)
    tier = owned(session, Tier, tier_id, venue_id, lock=True)
    _require_open(event, now)
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "vat_rate_bps", "access", "components"):
        if name in changes and changes[name] is None:
            raise ValidationFailed("This field cannot be cleared.", fields={name: "cannot be null"})
    old_price, committed = tier.price_amount, tier.sold + tier.held
    old_minimum, old_capacity = tier.pwyw_min_amount, tier.capacity
    old_components = list(tier.components)
    included = (tier.recording_id, tier.recording_days)
    _apply(tier, changes, event, creating=False,
           problems=_recording_problems(session, venue_id, changes))  # fmt: skip
    if committed:
        _keep_included(tier, included)
    if committed and tier.components != old_components:
        # What was sold is taxed as sold; a different division is a different tier.
        raise Conflict(
            "The components of a tier with sales cannot change.",
            code="components_fixed",
            fields={"components": "fixed while tickets are sold"},
        )
    if committed and tier.price_amount < old_price:
        raise Conflict(
            "The price of a tier with sales cannot be lowered.",
            code="price_below_sold",
            fields={"price_amount": f"at least {old_price} while tickets are sold"},
        )
    if tier.capacity is not None and tier.capacity < committed:
        raise Conflict(
            f"{committed} tickets are sold or reserved; capacity cannot be lower.",
            code="capacity_below_sold",
            fields={"capacity": f"at least {committed}"},
        )
    session.add(tier)
    _record_changes(session, tier, (old_price, old_minimum, old_capacity), event.currency)
    return tier


def _record_changes(
    session: Session, tier: Tier, before: tuple[int, int | None, int | None], currency: str
) -> None:
    """What buyers pay and how many may buy are audited (`before`: price, pay-what-you-
    want minimum, capacity); names and windows are not."""
    old_price, old_minimum, old_capacity = before
    price: dict[str, object] = {}
    if tier.price_amount != old_price:
        price["price_amount"] = audit.change(old_price, tier.price_amount)
    if tier.pwyw_min_amount != old_minimum:
        price["pwyw_min_amount"] = audit.change(old_minimum, tier.pwyw_min_amount)
    if price:
        audit.record(session, venue_id=tier.venue_id, action="tier.price_changed",
                     object_type="tier", object_id=tier.id,
                     changes={**price, "currency": currency})  # fmt: skip
    if tier.capacity != old_capacity:
        audit.record(session, venue_id=tier.venue_id, action="tier.capacity_changed",
                     object_type="tier", object_id=tier.id,
                     changes={"capacity": audit.change(old_capacity, tier.capacity)})  # fmt: skip


def _recording_problems(session: Session, venue_id: str, changes: dict[str, Any]) -> dict[str, str]:
    """A recording the tier is to include must be one of the venue's."""
    recording_id = changes.get("recording_id")
    if recording_id is None:
        return {}
    found = session.execute(_VENUE_RECORDING, {"id": recording_id, "venue_id": venue_id})
    return {} if found.first() is not None else {"recording_id": NOT_A_RECORDING}


def _keep_included(tier: Tier, before: tuple[str | None, int | None]) -> None:
    """With tickets sold, the included recording stays, for at least as many days."""
    recording_id, days = before
    if recording_id is None or days is None:
        return
    if tier.recording_id != recording_id:
        raise Conflict(
            "The tier's tickets are sold with this recording: it stays included.",
            code="included_recording_fixed",
            fields={"recording_id": f"{recording_id} while tickets are sold"},
        )
    if tier.recording_days is not None and tier.recording_days < days:
        raise Conflict(
            "The tier's tickets are sold with these days: they cannot be fewer.",
            code="included_recording_fixed",
            fields={"recording_days": f"at least {days} while tickets are sold"},
        )


def _both_or_neither(tier: Tier) -> dict[str, str]:
    """An included recording comes with its days, and days with a recording."""
    if (tier.recording_id is None) == (tier.recording_days is None):
        return {}
    return {"recording_id" if tier.recording_id is None else "recording_days": BOTH_OR_NEITHER}


def venue_recordings(session: Session, venue_id: str) -> list[tuple[str, str]]:
    """(id, title) of the venue's recordings a tier may include, by title."""
    rows = session.execute(_VENUE_RECORDINGS, {"venue_id": venue_id})
    return [(str(recording_id), str(title)) for recording_id, title in rows]


def _require_open(event: Event, now: datetime) -> None:
    current = status_of(event, now)
    if current in (EventStatus.ended, EventStatus.cancelled):
        raise Conflict(
            f"The event is {current.value}; its tiers can no longer change.",
            code="event_closed",
            details={"current_status": current.value},
        )


def _apply(
    tier: Tier, changes: dict[str, Any], event: Event, *, creating: bool,
    problems: dict[str, str],
) -> None:  # fmt: skip
    """Apply validated changes, then check the tier as a whole, naming the fields (with
    `problems` found before, of what only the database can tell)."""
    for name in ("name", "vat_rate_bps", "capacity", "sales_start", "sales_end", "components",
                 "recording_id", "recording_days"):  # fmt: skip
        if name in changes:
            setattr(tier, name, changes[name])
    if "access" in changes and changes["access"] is not None:
        access = changes["access"]
        tier.quality = access["quality"]
        tier.extras = sorted(set(access.get("extras", [])))
        tier.in_venue = access.get("in_venue", False)
        tier.rewatch_hours = access.get("rewatch_hours", 0)
        tier.max_devices = access.get("max_devices", 1)
        tier.on_device_limit = access.get("on_device_limit", "refuse")
    if "pay_what_you_want" in changes:
        pwyw = changes["pay_what_you_want"]
        tier.pwyw_min_amount = pwyw["min_amount"] if pwyw else None
        tier.pwyw_suggested_amount = pwyw["suggested_amount"] if pwyw else None
    if changes.get("price_amount") is not None:
        tier.price_amount = changes["price_amount"]
    elif "pay_what_you_want" in changes and tier.pwyw_suggested_amount is not None:
        tier.price_amount = tier.pwyw_suggested_amount  # the price shown is the suggestion

    problems = _both_or_neither(tier) | problems
    if creating and changes.get("price_amount") is None and not changes.get("pay_what_you_want"):
        problems["price_amount"] = "required unless pay_what_you_want is set"
    if tier.pwyw_min_amount is not None:
        assert tier.pwyw_suggested_amount is not None
        if tier.pwyw_suggested_amount < tier.pwyw_min_amount:
            problems["pay_what_you_want.suggested_amount"] = "must be at least min_amount"
        if tier.price_amount < tier.pwyw_min_amount:
            problems["price_amount"] = "must be at least pay_what_you_want.min_amount"
    priced = creating or "price_amount" in changes or "pay_what_you_want" in changes
    below = _below_charge_minimum(tier, event.currency) if priced else {}
    problems = below | problems  # "required" says more than "too low"
    problems.update(bundles.problems(tier.components, tier.price_amount))
    if tier.in_venue and tier.capacity is None:
        problems["capacity"] = "in-venue tiers need a capacity"
    problems.update(
        {key.removeprefix(f"tiers[{tier.id}]."): msg
         for key, msg in tier_window_problems(tier, event).items()}
    )  # fmt: skip
    if problems:
        minimum = {"minimum_amount": charge_minimum(event.currency), "currency": event.currency}
        raise ValidationFailed(
            "The tier is not valid.", fields=problems, details=minimum if below else None
        )


def _below_charge_minimum(tier: Tier, currency: str) -> dict[str, str]:
    """A price no card payment can carry is refused when it is set, not when a buyer
    meets it. 0 is allowed: a free tier (or a pay-what-you-want tier whose buyers may
    choose free) is ordered without any payment (orders/placing.py). Only checked when
    the price changes: a tier made before this rule keeps working for its other fields."""
    minimum = charge_minimum(currency)
    units = f"{currency} minor units: the payment provider's minimum"
    problem = f"0 (free) or at least {minimum} ({units})"
    found: dict[str, str] = {}
    if tier.pwyw_min_amount is not None and 0 < tier.pwyw_min_amount < minimum:
        found["pay_what_you_want.min_amount"] = problem
    if 0 < tier.price_amount < minimum:
        found["price_amount"] = problem
    return found


def list_tiers(session: Session, venue_id: str, event_id: str) -> list[Tier]:
    event = owned(session, Event, event_id, venue_id)
    return tiers_of(session, [event.id]).get(event.id, [])


def tiers_of(session: Session, event_ids: list[str]) -> dict[str, list[Tier]]:
    found: dict[str, list[Tier]] = {}
    query = (
        select(Tier)
        .where(col(Tier.event_id).in_(event_ids))
        .order_by(col(Tier.event_id), col(Tier.position))
    )
    for tier in session.exec(query):
        found.setdefault(tier.event_id, []).append(tier)
    return found


def available(tier: Tier) -> int | None:
    """Tickets still for sale; None when the tier is unlimited."""
    return None if tier.capacity is None else max(0, tier.capacity - tier.sold - tier.held)


def public(tier: Tier, currency: str) -> TierPublic:
    pwyw = (
        PayWhatYouWantPublic(
            min_amount=tier.pwyw_min_amount, suggested_amount=tier.pwyw_suggested_amount or 0
        )
        if tier.pwyw_min_amount is not None
        else None
    )
    return TierPublic(
        id=tier.id,
        event_id=tier.event_id,
        name=tier.name,
        price_amount=tier.price_amount,
        currency=currency,
        pay_what_you_want=pwyw,
        capacity=tier.capacity,
        sold=tier.sold,
        held=tier.held,
        available=available(tier),
        sales_start=tier.sales_start,
        sales_end=tier.sales_end,
        vat_rate_bps=tier.vat_rate_bps,
        access=AccessPublic.model_validate(tier, from_attributes=True),
        components=[ComponentPublic.model_validate(part) for part in tier.components],
        recording_id=tier.recording_id,
        recording_days=tier.recording_days,
    )
