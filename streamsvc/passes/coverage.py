"""Date-range passes: every event of the venue that starts in the pass's dates.

A pass whose `coverage` is date_range covers the venue's events starting in
[covers_from, covers_until). `sync_date_range` puts each such event in the pass's
`pass_events` once a holder could claim it (on sale or live, sold in the pass's
currency, with a tier), holders taking its first tier in the order the event page
lists them (catalog/tiers.py `tiers_of`; no tier is hidden from the public). An event
never leaves (products.py says why): one moved out of the dates stays, and one that
is still a draft, or has no tier yet, joins when it can be claimed.

When an event joins (`added_at`) decides which passes cover it and share their money
with it (recognition.py `covered_at`). It joins at the latest of:
- its creation: a pass paid before the event existed did not buy it;
- `range_changed_at`: nor did a pass paid before the range grew to take it in;
- just after the payment of the last pass whose money is already divided over its
  events: a division is final (its shares never change), so no event may count as
  covered by a pass it shares no money with. An event that becomes claimable later
  than it was created (published, or given a tier) joins only passes divided after.

Sync runs when staff set the range (products.py), every minute on beat
(`passes.cover_date_ranges`), right before a payment is divided
(recognition.post_payment) and when the console shows the pass. It locks the pass's
row, so a sync and a division never interleave: either the division sees the event,
or the event joins after that pass's payment.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from streamsvc.catalog.lifecycle import EventStatus, status_condition
from streamsvc.catalog.models import Event, Tier
from streamsvc.catalog.tiers import tiers_of
from streamsvc.orders.models import Order
from streamsvc.passes.models import (
    MAX_EVENTS,
    Coverage,
    PassEvent,
    PassHolding,
    PassProduct,
    PassShare,
)

log = logging.getLogger(__name__)
CLAIMABLE = (EventStatus.on_sale, EventStatus.live)
# Beat keeps looking this long after a range's end: an event starting just before it
# may still be published, or given its first tier.
GRACE = timedelta(days=1)
_TICK = timedelta(microseconds=1)  # PostgreSQL's resolution: the moment just after


def sync_date_range(session: Session, product: PassProduct, now: datetime) -> int:
    """Put the claimable events starting in the pass's dates that it lacks in it, with
    their first tier; events added (0 for a series pass). Idempotent."""
    if product.coverage is not Coverage.date_range:
        return 0
    product = session.exec(
        select(PassProduct).where(PassProduct.id == product.id)
        .with_for_update().execution_options(populate_existing=True)
    ).one()  # fmt: skip
    if product.covers_from is None or product.covers_until is None:
        return 0  # the CHECK pass_coverage_range makes this impossible
    held = session.exec(
        select(func.count()).select_from(PassEvent).where(PassEvent.pass_id == product.id)
    ).one()
    room = MAX_EVENTS - int(held)
    events = list(session.exec(
        select(Event).where(
            Event.venue_id == product.venue_id, Event.currency == product.currency,
            col(Event.starts_at) >= product.covers_from,
            col(Event.starts_at) < product.covers_until,
            or_(*(status_condition(status, now) for status in CLAIMABLE)),
            select(Tier.id).where(col(Tier.event_id) == col(Event.id)).exists(),
            col(Event.id).not_in(
                select(PassEvent.event_id).where(PassEvent.pass_id == product.id)),
        ).order_by(col(Event.starts_at), col(Event.id)).limit(max(room, 0) + 1)
    ))  # fmt: skip
    if len(events) > room:
        log.warning("pass %s covers %s events, its most: later ones stay out",
                    product.id, MAX_EVENTS)  # fmt: skip
        events = events[: max(room, 0)]
    if not events:
        return 0
    first_tiers = tiers_of(session, [event.id for event in events])
    earliest = _earliest_join(session, product)
    session.add_all(
        PassEvent(pass_id=product.id, event_id=event.id, tier_id=first_tiers[event.id][0].id,
                  added_at=max(event.created_at, earliest))
        for event in events
    )  # fmt: skip
    session.flush()
    return len(events)


def _earliest_join(session: Session, product: PassProduct) -> datetime:
    """When an event joining now joins at the earliest: once the range took it in, and
    after the payment of every pass whose money is divided already."""
    divided = session.exec(
        select(func.max(Order.paid_at))
        .join(PassHolding, col(PassHolding.order_id) == col(Order.id))
        .where(PassHolding.pass_id == product.id,
               select(PassShare.holding_id)
               .where(col(PassShare.holding_id) == col(PassHolding.id)).exists())
    ).one()  # fmt: skip
    moments = [product.range_changed_at or product.created_at]
    if divided is not None:
        moments.append(divided + _TICK)
    return max(moments)


def sync_all(session: Session, now: datetime) -> int:
    """Sync every date-range pass whose dates are not over (or ended within GRACE), in
    id order (the order every sync locks them in); events added. Beat runs this."""
    ranged = session.exec(
        select(PassProduct).where(PassProduct.coverage == Coverage.date_range,
                                  col(PassProduct.covers_until) > now - GRACE)
        .order_by(col(PassProduct.id))
    ).all()  # fmt: skip
    return sum(sync_date_range(session, product, now) for product in ranged)
