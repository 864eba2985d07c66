"""Rescheduling an event that has sales: a new time, every buyer told, refunds on request.

`reschedule_event` moves an on-sale event's start (and end), keeps the start it had in
`previous_starts_at`, and sets `refund_until`: the end of the period the venue gives
its buyers to ask for their money back (STREAMSVC_RESCHEDULE_REFUND_DAYS by default,
never past the new start). In the same transaction it writes one `RescheduleNotice`
per order whose buyer holds tickets, each raising `RescheduleNoticeIssued` (durable:
the outbox carries it to the worker's `orders.send_reschedule_notice`, which mails
the notice once, retried until the SMTP server takes it).

A notice is also the buyer's right to a refund: `refund_on_request`, from the order
page (the order token authorises it), refunds what is left of the order in full
through the refund path every refund takes (refunds.request_refund: recorded, audited,
sent to Stripe with `refund:{id}` after the commit). Asking twice refunds once, and
asking after `refund_until` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc import audit
from streamsvc.catalog.events import completeness_problems, status_of
from streamsvc.catalog.lifecycle import EventStatus
from streamsvc.catalog.models import Event
from streamsvc.db import Database, emit
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.notifications.mail import (
    SUPPORTED_LOCALES,
    Locale,
    RescheduleMail,
    render_reschedule_mail,
    sender_from_settings,
)
from streamsvc.orders import views
from streamsvc.orders.buying import lock_order
from streamsvc.orders.events import RescheduleNoticeIssued
from streamsvc.orders.links import order_page_link, recover_order_token
from streamsvc.orders.models import Order, OrderStatus, RescheduleNotice
from streamsvc.orders.refunds import REFUNDABLE, request_refund
from streamsvc.orders.state import DISPUTED
from streamsvc.payments.models import Refund
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned

REFUND_ORIGIN = "event_rescheduled"
MIN_REFUND_DAYS, MAX_REFUND_DAYS = 1, 90
# Orders whose buyers hold tickets: they are told, and may ask for their money back.
HOLDING = (OrderStatus.paid, OrderStatus.partially_refunded)


@dataclass(frozen=True)
class RescheduleSummary:
    """What the confirmation says before the event moves."""

    event: Event
    status: EventStatus
    buyers: int  # how many orders' buyers will be mailed


@dataclass(frozen=True)
class Rescheduled:
    event: Event
    buyers: int


def _holding(event_id: str) -> list[ColumnElement[bool]]:
    return [
        col(Order.event_id) == event_id,
        col(Order.status).in_([s.value for s in HOLDING]),
        col(Order.paid_at).is_not(None),
    ]


def reschedule_summary(
    session: Session, venue_id: str, event_id: str, now: datetime
) -> RescheduleSummary:
    event = owned(session, Event, event_id, venue_id)
    buyers = session.exec(select(func.count()).select_from(Order).where(*_holding(event.id))).one()
    return RescheduleSummary(event=event, status=status_of(event, now), buyers=int(buyers))


def check_reschedule(
    session: Session,
    event: Event,
    *,
    starts_at: datetime,
    ends_at: datetime,
    refund_days: int,
    now: datetime,
) -> datetime:
    """Refuse what `reschedule_event` would refuse, changing nothing; the refund period's
    end otherwise (the confirmation shows it before anything moves)."""
    current = status_of(event, now)
    if current is not EventStatus.on_sale:
        raise Conflict(
            f"An event that is {current.value} cannot be rescheduled; only one on sale "
            "that has not started.",
            code="not_reschedulable",
            details={"current_status": current.value},
        )
    problems: dict[str, str] = {}
    if starts_at <= now:
        problems["starts_at"] = "must be in the future"
    elif starts_at == event.starts_at:
        problems["starts_at"] = "the event already starts then"
    if ends_at <= starts_at:
        problems["ends_at"] = "must be after starts_at"
    if not MIN_REFUND_DAYS <= refund_days <= MAX_REFUND_DAYS:
        problems["refund_days"] = f"between {MIN_REFUND_DAYS} and {MAX_REFUND_DAYS} days"
    if problems:
        raise ValidationFailed("The new time cannot be used.", fields=problems)
    # The publish check on the moved event (a copy, outside the session): e.g. a
    # tier's sales must not end after the new end.
    moved = Event.model_validate({**event.model_dump(), "starts_at": starts_at,
                                  "ends_at": ends_at})  # fmt: skip
    problems = completeness_problems(session, moved, now)
    if problems:
        raise ValidationFailed(
            "The event would not be complete: "
            + "; ".join(f"{k}: {v}" for k, v in problems.items()),
            code="event_incomplete",
            fields=problems,
        )
    # Asking for the money back is for those who cannot come: it closes at the start.
    return min(now + timedelta(days=refund_days), starts_at)


def reschedule_event(
    session: Session,
    venue_id: str,
    event_id: str,
    *,
    starts_at: datetime,
    ends_at: datetime,
    refund_days: int,
    now: datetime,
) -> Rescheduled:
    """Move an on-sale event to a new time and tell each buyer (see the module)."""
    event = owned(session, Event, event_id, venue_id, lock=True)
    refund_until = check_reschedule(
        session, event, starts_at=starts_at, ends_at=ends_at, refund_days=refund_days, now=now
    )
    before_start, before_end = event.starts_at, event.ends_at
    event.previous_starts_at = before_start
    event.starts_at, event.ends_at = starts_at, ends_at
    event.rescheduled_at = now
    event.refund_until = refund_until
    event.updated_at = now
    session.add(event)
    order_ids = list(session.exec(select(Order.id).where(*_holding(event.id))))
    notices = [
        RescheduleNotice(
            id=new_id("rsn"), event_id=event.id, order_id=order_id, venue_id=event.venue_id,
            rescheduled_at=now, previous_starts_at=before_start, created_at=now,
        )
        for order_id in order_ids
    ]  # fmt: skip
    session.add_all(notices)
    session.flush()
    audit.record(
        session, venue_id=event.venue_id, action="event.rescheduled", object_type="event",
        object_id=event.id,
        changes={"starts_at": audit.change(before_start.isoformat(), starts_at.isoformat()),
                 "ends_at": audit.change(before_end.isoformat(), ends_at.isoformat()),
                 "refund_until": event.refund_until.isoformat(),
                 "buyers_notified": len(notices)},
    )  # fmt: skip
    for notice in notices:
        emit(session, RescheduleNoticeIssued(notice.id))
    return Rescheduled(event=event, buyers=len(notices))


# -- the buyer's refund on request ---------------------------------------------------


def refund_left(order: Order) -> int:
    return order.paid_amount - order.refunded_amount


def refund_offered_until(
    session: Session, order: Order, event: Event, now: datetime
) -> datetime | None:
    """Until when this order's buyer may still ask for a refund; None when not (the
    event was not rescheduled after they bought, the period is over, nothing is left to
    return, a dispute holds the money, or the event was cancelled: that refunds itself)."""
    if event.rescheduled_at is None or event.refund_until is None or now >= event.refund_until:
        return None
    if status_of(event, now) is EventStatus.cancelled:
        return None
    if (
        order.status not in REFUNDABLE
        or order.dispute_status in DISPUTED
        or order.payment_intent_id is None
        or refund_left(order) <= 0
    ):
        return None
    notice = session.exec(
        select(RescheduleNotice.id).where(
            RescheduleNotice.order_id == order.id,
            RescheduleNotice.rescheduled_at == event.rescheduled_at,
        )
    ).first()
    return event.refund_until if notice is not None else None


def refund_on_request(session: Session, order_id: str, order_token: str, now: datetime) -> Refund:
    """Refund the whole of what is left of the order, for the holder of its token, while
    the reschedule's refund period lasts. Asking again (a double click, a second tab)
    returns the same refund: the order's row lock makes the second ask wait for the
    first, then find its refund."""
    views.public_order(session, order_id, order_token)  # 404 for a wrong token
    order = lock_order(session, order_id)
    assert order is not None
    event = session.get(Event, order.event_id)
    assert event is not None
    if event.rescheduled_at is None:
        raise Conflict("This order cannot be refunded on request.", code="refund_not_offered")
    earlier = session.exec(
        select(Refund).where(
            Refund.order_id == order.id,
            Refund.origin == REFUND_ORIGIN,
            col(Refund.created_at) >= event.rescheduled_at,
        )
    ).first()
    if earlier is not None:
        return earlier
    if refund_offered_until(session, order, event, now) is None:
        if event.refund_until is not None and now >= event.refund_until:
            raise Conflict(
                "The period to ask for a refund after the new date has ended.",
                code="refund_period_over",
                details={"refund_until": event.refund_until.isoformat()},
            )
        raise Conflict("This order cannot be refunded on request.", code="refund_not_offered")
    return request_refund(
        session, order.venue_id, order.id, amount=None, origin=REFUND_ORIGIN,
        reason="asked by the buyer after the event was rescheduled", now=now,
    )  # fmt: skip


# -- the mail ------------------------------------------------------------------------


def mail_notice(database: Database, settings: Settings, notice_id: str, now: datetime) -> bool:
    """Mail one buyer the new time (once); False when there is nothing (more) to send:
    mailed before, superseded by a later reschedule, the event cancelled since (that
    mail is the cancellation's), or the order no longer holds tickets.

    The notice's row stays locked from the check to the mark, across the send, as the
    ticket mail's order row does: a concurrent retry waits, then finds it mailed."""
    with database.unit_of_work() as uow:
        session = uow.session
        notice = session.exec(
            select(RescheduleNotice).where(RescheduleNotice.id == notice_id).with_for_update()
        ).first()
        if notice is None or notice.mailed_at is not None:
            return False
        order = session.get(Order, notice.order_id)
        event = session.get(Event, notice.event_id)
        venue = session.get(Venue, notice.venue_id)
        assert order is not None and event is not None and venue is not None
        if (
            event.rescheduled_at != notice.rescheduled_at
            or status_of(event, now) is EventStatus.cancelled
            or order.status not in HOLDING
        ):
            return False
        token = recover_order_token(settings, order.id, order.token_hash)
        locale: Locale = next((loc for loc in SUPPORTED_LOCALES if loc == order.locale), "en")
        mail = RescheduleMail(
            to=order.email, locale=locale, order_id=order.id, event_title=event.title,
            venue_name=venue.name, starts_at=event.starts_at,
            previous_starts_at=notice.previous_starts_at, timezone=event.timezone,
            refund_until=refund_offered_until(session, order, event, now),
            order_url=order_page_link(settings, order.id, token) if token else None,
        )  # fmt: skip
        # A failed send raises: the lock goes with the rollback, nothing is marked.
        sender_from_settings(settings).send(
            render_reschedule_mail(mail, settings.mail_from, now=now)
        )
        notice.mailed_at = now
        session.add(notice)
    return True
