"""Buying a recording's offer: a rental, a purchase, or a free play, one access an order.

An order like a season pass's (passes/buying.py), of a recording's offer instead of a
pass: `recording_id` and `recording_offer_id` set, no event, quantity 1, its total the
offer's price (VAT included) in the offer's currency, and the recording's split rule
version in force. The same three short units of work as orders/placing.py: (1) claim
the buyer's Idempotency key and write the pending order; (2) create the PaymentIntent
with the key `order:{id}:intent`; (3) attach it. From there the order is paid,
expired, refunded or disputed by the same webhook, settlement and refund paths as
tickets; settlement issues its access (orders/recording_orders.py) and
`RecordingAccessIssued` mails the buyer the watch link.

A free offer stops after step (1), as a free tier does (orders/fulfilment.issue_free):
the order is paid with 0 and its access issued in that same unit of work; Stripe is
never called. A recording that is not published is unknown (404); a withdrawn one
sells nothing more (409 `recording_withdrawn`), nor does a retired offer (409
`offer_retired`), nor a paid offer of a recording with no split rule (409
`recording_split_rule_missing`): publishing asks for one, but offers may change after.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from config.settings import Settings
from streamsvc import idempotency
from streamsvc.db import Database
from streamsvc.errors import (
    Conflict,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from streamsvc.kit.clock import Clock
from streamsvc.kit.ids import new_id
from streamsvc.orders import buying as order_buying
from streamsvc.orders import fulfilment
from streamsvc.orders.intents import pay_for
from streamsvc.orders.links import order_token_for
from streamsvc.orders.models import CapacityState, Order, OrderStatus
from streamsvc.payments.gateway import PaymentGateway
from streamsvc.recordings.models import OfferKind, Recording, RecordingOffer, RecordingStatus
from streamsvc.recordings.rights import latest_rule
from streamsvc.venues.models import Venue


@dataclass(frozen=True)
class RecordingOrder:
    """What the buyer is answered: the order and, unless it was free, how to pay it."""

    order_id: str
    order_token: str  # shown once; the checkout and order pages take it like any order's
    status: str  # pending, or paid for a free offer
    total_amount: int
    currency: str
    expires_at: datetime  # when an unpaid order lapses
    payment_intent_id: str | None
    client_secret: str | None


def idempotency_scope(recording_id: str, email: str) -> str:
    """One buyer's orders of one recording: the scope of their Idempotency keys, as
    orders/placing.py scopes a buyer's orders of one event (its docstring says why)."""
    buyer = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"recordings:{recording_id}:{buyer}"


def _on_sale(
    session: Session, recording_id: str, offer_id: str, *, paid_sales: bool
) -> tuple[Recording, int]:
    """The recording, if its offer may be sold now, and its split rule version in force."""
    # Shared with the row lock of withdrawing and of changing offers: neither slips in.
    recording = session.exec(
        select(Recording).where(Recording.id == recording_id).with_for_update(read=True)
    ).first()
    if recording is None or recording.status is RecordingStatus.draft:
        raise NotFound("No such recording.")
    venue = session.get(Venue, recording.venue_id)
    if venue is None or venue.suspended_at is not None:  # closed by the platform operator
        raise NotFound("No such recording.")
    if recording.status is RecordingStatus.withdrawn:
        raise Conflict("This recording was withdrawn: it is no longer sold.",
                       code="recording_withdrawn")  # fmt: skip
    offer = session.get(RecordingOffer, offer_id)
    if offer is None or offer.recording_id != recording.id:
        raise ValidationFailed("That is not an offer of this recording.", code="offer_not_found",
                               fields={"offer_id": "not an offer of this recording"})  # fmt: skip
    if offer.retired_at is not None:
        raise Conflict("This offer was replaced: choose one of the current offers.",
                       code="offer_retired")  # fmt: skip
    if offer.kind is not OfferKind.free and not paid_sales:
        # The installation closed paid sales of recordings (STREAMSVC_RECORDING_PAID_SALES).
        raise Conflict("Renting and buying recordings opens soon: for now only free "
                       "recordings can be watched.", code="recording_sales_closed")  # fmt: skip
    rule = latest_rule(session, recording)
    if rule is None and offer.kind is not OfferKind.free:
        # As publishing asks: nothing is sold that no rule says how to share.
        raise Conflict("This recording cannot be sold: it has no split rule.",
                       code="recording_split_rule_missing")  # fmt: skip
    return recording, rule.version if rule is not None else 0


def _reserve(
    session: Session, settings: Settings, recording_id: str, offer_id: str, *, email: str,
    country: str | None, locale: str, now: datetime,
) -> tuple[Order, str]:  # fmt: skip
    recording, version = _on_sale(session, recording_id, offer_id,
                                  paid_sales=settings.recording_paid_sales)  # fmt: skip
    offer = session.get(RecordingOffer, offer_id)
    assert offer is not None
    order_id = new_id("ord")
    token = order_token_for(settings, order_id)
    order = Order(
        id=order_id, venue_id=recording.venue_id, event_id=None, recording_id=recording.id,
        recording_offer_id=offer.id, email=email, country=country, locale=locale,
        status=OrderStatus.pending, capacity=CapacityState.held,
        total_amount=offer.price_amount, currency=offer.currency,
        token_hash=order_buying.hash_token(token), split_rule_version=version,
        expires_at=now + timedelta(minutes=settings.reservation_minutes),
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(order)
    session.flush()
    return order, token


def buy_recording(
    database: Database,
    gateway: PaymentGateway,
    settings: Settings,
    clock: Clock,
    *,
    recording_id: str,
    offer_id: str,
    email: str,
    country: str | None,
    locale: str,
    idempotency_key: str | None = None,
) -> RecordingOrder:
    """Order the offer and create its PaymentIntent, or settle it at once when it is free;
    404, 409 recording_withdrawn / offer_retired / recording_split_rule_missing, 422, 503.

    With `idempotency_key`, a repeated request of the same buyer answers what the first
    one did, order token included, and one that died half-way is resumed: the semantics
    of orders/placing.py, scoped to the recording and the buyer's e-mail."""
    email, key = email.strip(), idempotency_key
    scope = idempotency_scope(recording_id, email)
    body_hash = idempotency.request_hash(
        {"recording_id": recording_id, "offer_id": offer_id, "email": email, "country": country}
    )
    now = clock.now()
    with database.unit_of_work() as uow:
        replay = idempotency.claim(uow.session, scope, key, body_hash, now) if key else None
        if replay is not None and replay.status_code is None and not replay.response:
            raise Conflict("The first request with this key is still running.",
                           code="idempotency_key_in_progress")  # fmt: skip
        if replay is not None:
            draft = replay.response
        else:
            order, token = _reserve(
                uow.session, settings, recording_id, offer_id, email=email, country=country,
                locale=locale, now=now,
            )  # fmt: skip
            fulfilment.issue_free(uow, order, now)  # only when there is nothing to pay
            draft = {"order_id": order.id, "order_token": token, "status": str(order.status),
                     "total_amount": order.total_amount, "currency": order.currency,
                     "expires_at": order.expires_at.isoformat(),
                     "venue_id": order.venue_id}  # fmt: skip
            if key is not None:
                idempotency.attach(uow.session, scope, key, order.id, draft)
                if order.status != OrderStatus.pending:  # free: this is the whole answer
                    idempotency.complete(uow.session, scope, key, 201, draft)
    if replay is not None and replay.status_code is not None:
        return _answered(replay.status_code, replay.response)
    if draft["status"] != OrderStatus.pending:
        return _answered(201, draft)  # a free offer, settled without Stripe
    answer = pay_for(database, gateway, clock, draft, metadata={"recording_id": recording_id},
                     scope=scope, key=key)  # fmt: skip
    return _answered(201, answer)


def _answered(status: int, answer: dict[str, Any]) -> RecordingOrder:
    """The answer of a request (or the first one's, replayed): the order, or its error."""
    if status != 201:
        failed = answer.get("error", {})
        raise ServiceError(str(failed.get("message", "")), code=str(failed.get("code", "")),
                           status=status)  # fmt: skip
    return RecordingOrder(
        order_id=str(answer["order_id"]), order_token=str(answer["order_token"]),
        status=str(answer["status"]), total_amount=int(answer["total_amount"]),
        currency=str(answer["currency"]),
        expires_at=datetime.fromisoformat(str(answer["expires_at"])),
        payment_intent_id=answer.get("payment_intent_id"),
        client_secret=answer.get("client_secret"),
    )  # fmt: skip
