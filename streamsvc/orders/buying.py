"""Buying: check the order, reserve capacity, and attach the Stripe PaymentIntent.

Creating an order takes three short steps, so that no row lock is held while
Stripe is called: (1) validate and reserve in one transaction; (2) create the
PaymentIntent with the idempotency key `order:{id}:intent`; (3) store its id.
A failure at (2) releases the reservation; a crash between the steps is healed
by the expiry task, and a retried request resumes the same order.

An order's total is 0 (free tiers, pay-what-you-want tiers where the buyer chose 0:
no payment, orders/placing.py issues its tickets at once) or at least the provider's
minimum charge in the event's currency (payments/minimums.py). A pay-what-you-want
amount between the two is refused on its own item, naming that minimum.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, SQLModel, col, select

from config.settings import Settings
from streamsvc.catalog.coproducers import version_in_force_query
from streamsvc.catalog.events import status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event, Tier
from streamsvc.errors import Conflict, NotFound, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.orders import capacity
from streamsvc.orders.links import order_token_for
from streamsvc.orders.models import CapacityState, Order, OrderItem, OrderStatus
from streamsvc.orders.schemas import OrderCreate
from streamsvc.payments.minimums import charge_minimum
from streamsvc.venues.models import Venue


@dataclass(frozen=True)
class Reservation:
    order: Order
    order_token: str  # shown to the buyer once; only its hash is kept


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reserve(
    session: Session,
    event_id: str,
    data: OrderCreate,
    *,
    locale: str,
    now: datetime,
    settings: Settings,
) -> Reservation:
    """Validate an order and hold its capacity; 409 sold_out / sales_closed, 422 fields."""
    event, venue, tiers, rule_version = _read_event(session, event_id)
    if event is None or status_of(event, now) is EventStatus.draft:
        raise NotFound("No such event.")
    if venue is None or venue.suspended_at is not None:  # closed by the platform operator
        raise NotFound("No such event.")
    status = status_of(event, now)
    if status not in (EventStatus.on_sale, EventStatus.live):
        raise Conflict(f"The event is {status.value}; nothing is for sale.", code="sales_closed",
                       details={"current_status": status.value})  # fmt: skip
    if event.allowed_countries and data.country not in event.allowed_countries:
        raise ValidationFailed(
            "This event is not offered in that country.",
            code="country_not_allowed",
            fields={"country": f"one of {', '.join(event.allowed_countries)}"},
        )
    total = _price(data, tiers, event, now, settings.order_max_quantity)
    # What each tier of the order has left as read (None: no limit), for a refusal.
    left = {item.tier_id: _left(tiers[item.tier_id]) for item in data.items}
    countries = tuple(event.allowed_countries or ())
    # Refuse at once what is visibly gone, without queueing for the tier's row lock
    # (a burst of buyers for the last seats must not wait in line to hear "sold out").
    for i, item in enumerate(data.items):
        tier = tiers[item.tier_id]
        if tier.capacity is not None and tier.sold + tier.held + item.quantity > tier.capacity:
            raise SoldOut(i, max(0, tier.capacity - tier.sold - tier.held), left, countries)
    order_id = new_id("ord")
    # Derived from the id with a server key, not random: a mail sent later (the ticket
    # mail, a resend) can carry it again in the order page's link (orders/links.py).
    token = order_token_for(settings, order_id)
    order = Order(
        id=order_id,
        venue_id=event.venue_id,
        event_id=event.id,
        email=data.email,
        country=data.country,
        locale=locale,
        status=OrderStatus.pending,
        capacity=CapacityState.held,
        total_amount=total,
        currency=event.currency,
        token_hash=hash_token(token),
        split_rule_version=rule_version or 1,
        expires_at=now + timedelta(minutes=settings.reservation_minutes),
        created_at=now,
        updated_at=now,
    )
    items = [
        OrderItem(
            id=new_id("oit"),
            order_id=order.id,
            tier_id=tier.id,
            quantity=item.quantity,
            unit_amount=item.amount if item.amount is not None else tier.price_amount,
            vat_rate_bps=tier.vat_rate_bps,
            position=position,
            components=list(tier.components),  # as sold: taxed as sold (catalog/bundles.py)
        )
        for position, (item, tier) in enumerate((i, tiers[i.tier_id]) for i in data.items)
    ]
    _insert(session, order, items)
    # Hold last, in tier-id order: the row locks are held only until the commit, and
    # two orders for the same tiers cannot deadlock.
    for i, item in sorted(enumerate(data.items), key=lambda pair: pair[1].tier_id):
        if not capacity.hold(session, item.tier_id, item.quantity):
            seats = _available(session, item.tier_id)
            raise SoldOut(i, seats, {**left, item.tier_id: seats}, countries)
    return Reservation(order, token)


def _insert(session: Session, order: Order, items: list[OrderItem]) -> None:
    """Write the order and its items in one statement (one round trip on every
    purchase's path, where the ORM's flush takes two: the items' foreign key needs the
    order first). The order then joins the session as though loaded, so what the
    transaction does next with it (a free order is settled on it) is an ORM update."""
    placed = insert(Order).values(_columns(order)).cte("placed")
    session.execute(insert(OrderItem).values([_columns(item) for item in items]).add_cte(placed))
    make_transient_to_detached(order)
    session.add(order)


def _columns(row: SQLModel) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}  # type: ignore[attr-defined]


def _read_event(
    session: Session, event_id: str
) -> tuple[Event | None, Venue | None, dict[str, Tier], int | None]:
    """The event, its venue, its tiers by id and the latest version of its split rule in
    force (one waiting for a co-producer's consent is not yet), in one round trip: this
    read is on every order's path, refused ones included.

    The tiers are ORM objects of the session: the hold and the pre-check see the same
    identity map as any other read of the transaction."""
    version = version_in_force_query(event_id).scalar_subquery()
    rows = session.execute(
        sa_select(Event, Venue, Tier, version)
        .join(Venue, col(Venue.id) == col(Event.venue_id))
        .outerjoin(Tier, col(Tier.event_id) == col(Event.id))
        .where(col(Event.id) == event_id)
    ).all()
    if not rows:  # no such event (its venue cannot be missing: a foreign key)
        return None, None, {}, None
    event, venue, _, rule_version = rows[0]
    tiers = {tier.id: tier for _, _, tier, _ in rows if tier is not None}
    return event, venue, tiers, rule_version


class SoldOut(Conflict):
    """409 sold_out: item `index` asks more than the `seats` its tier has left.

    `left` is what every tier of the order had left as this transaction saw it (None:
    no limit) and `countries` the event's allowed countries: what the API process needs
    to refuse the next buyers of these tiers without a transaction (orders/sold_out.py).
    """

    def __init__(
        self, index: int, seats: int, left: dict[str, int | None], countries: tuple[str, ...]
    ) -> None:
        super().__init__("Not enough tickets left.", code="sold_out",
                         fields={f"items[{index}].quantity": f"{seats} left"})  # fmt: skip
        self.left = left
        self.countries = countries


def _left(tier: Tier) -> int | None:
    return None if tier.capacity is None else max(0, tier.capacity - tier.sold - tier.held)


def _price(
    data: OrderCreate, tiers: dict[str, Tier], event: Event, now: datetime, max_quantity: int
) -> int:
    """The order's total; every invalid item is reported at once, by field path."""
    problems: dict[str, str] = {}
    closed: dict[str, str] = {}
    total = 0
    minimum = charge_minimum(event.currency)
    seen: set[str] = set()
    for i, item in enumerate(data.items):
        tier = tiers.get(item.tier_id)
        if tier is None:
            problems[f"items[{i}].tier_id"] = "not a tier of this event"
            continue
        if tier.id in seen:
            problems[f"items[{i}].tier_id"] = "this tier is already in the order"
        seen.add(tier.id)
        if item.quantity > max_quantity:
            problems[f"items[{i}].quantity"] = f"at most {max_quantity}"
        unit = tier.price_amount
        if tier.pwyw_min_amount is None and item.amount is not None:
            problems[f"items[{i}].amount"] = "only for pay-what-you-want tiers"
        elif tier.pwyw_min_amount is not None:
            if item.amount is None or item.amount < tier.pwyw_min_amount:
                problems[f"items[{i}].amount"] = f"at least {tier.pwyw_min_amount}"
            elif 0 < item.amount < minimum:
                # Free (0) is the buyer's choice, but a donation must be one a card can pay.
                free = "0 or " if tier.pwyw_min_amount == 0 else ""
                problems[f"items[{i}].amount"] = f"{free}at least {minimum}"
            unit = item.amount or 0
        total += unit * item.quantity
        opens, ends = tier.sales_start, tier.sales_end or event.ends_at
        if (opens is not None and now < opens) or now >= ends:
            closed[f"items[{i}].tier_id"] = "not on sale now"
    if problems:
        named = any(text.endswith(f"at least {minimum}") for text in problems.values())
        charge = {"minimum_amount": minimum, "currency": event.currency}
        raise ValidationFailed("The order is not valid.", fields=problems,
                               details=charge if named else None)  # fmt: skip
    if closed:
        raise Conflict("A tier is not on sale now.", code="sales_closed", fields=closed)
    # 0 is a free order; below the minimum only a tier priced before that rule remains.
    if 0 < total < minimum:
        raise ValidationFailed(
            "The total is below what a card payment can carry.",
            code="amount_too_small",
            fields={"items": f"a total of 0 or at least {minimum}"},
            details={"minimum_amount": minimum, "currency": event.currency},
        )
    return total


def _available(session: Session, tier_id: str) -> int:
    tier = session.get(Tier, tier_id)
    if tier is None or tier.capacity is None:
        return 0
    return max(0, tier.capacity - tier.sold - tier.held)


def items_of(session: Session, order_id: str) -> list[OrderItem]:
    query = select(OrderItem).where(OrderItem.order_id == order_id)
    return list(session.exec(query.order_by(col(OrderItem.position))))


def lock_order(session: Session, order_id: str) -> Order | None:
    return session.exec(select(Order).where(Order.id == order_id).with_for_update()).first()


def intent_attachment(order_id: str, intent_id: str) -> Update:
    """The one statement that stores the order's PaymentIntent; the first stays (a
    retry's is the same intent, by Stripe's idempotency key). No read before it: this is
    on every purchase's path (make bench: order_burst's sequential overhead)."""
    return (
        update(Order)
        .where(col(Order.id) == order_id, col(Order.payment_intent_id).is_(None))
        .values(payment_intent_id=intent_id)
    )


def attach_intent(session: Session, order_id: str, intent_id: str) -> None:
    """Store the order's PaymentIntent (intent_attachment); 404 for no such order."""
    attached = session.execute(intent_attachment(order_id, intent_id))
    if not attached.rowcount and session.get(Order, order_id) is None:  # type: ignore[attr-defined]
        raise NotFound("No such order.")


def release_hold(session: Session, order: Order, status: OrderStatus, now: datetime) -> None:
    """Give back a pending order's capacity: it expired, failed or was cancelled."""
    if order.capacity == CapacityState.held:
        for item in items_of(session, order.id):
            capacity.release(session, item.tier_id, item.quantity)
        if order.pass_id is not None:
            capacity.release_pass(session, order.pass_id)
        order.capacity = CapacityState.released
    if order.paid_amount == 0:
        order.status = status
    order.updated_at = now
    session.add(order)


def expired_pending(session: Session, now: datetime, limit: int = 200) -> list[str]:
    query = (
        select(Order.id)
        .where(Order.status == OrderStatus.pending, col(Order.expires_at) <= now)
        .order_by(col(Order.expires_at))
        .limit(limit)
    )
    return list(session.exec(query))


def stale_pending(session: Session, older_than: datetime, limit: int = 200) -> list[str]:
    """Pending orders that have waited long enough to ask Stripe about them."""
    query = (
        select(Order.id)
        .where(
            Order.status == OrderStatus.pending,
            col(Order.created_at) <= older_than,
            col(Order.payment_intent_id).is_not(None),
        )
        .order_by(col(Order.created_at))
        .limit(limit)
    )
    return list(session.exec(query))
