"""After the buyer's click: issue a free order's tickets, mail the tickets, expire what
was never paid, and ask Stripe about orders whose webhook may have been lost."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import col, select

from config.settings import Settings
from streamsvc.catalog.models import Event, Tier
from streamsvc.db import Database, UnitOfWork
from streamsvc.notifications.mail import (
    MailDeliveryError,
    TicketLine,
    TicketMail,
    mail_locale,
    render_ticket_mail,
    sender_from_settings,
)
from streamsvc.orders import seats, settlement
from streamsvc.orders.buying import lock_order, release_hold
from streamsvc.orders.links import order_page_link, recover_order_token
from streamsvc.orders.models import Order, OrderStatus, Ticket, TicketStatus
from streamsvc.payments.gateway import PaymentGateway, PaymentProviderUnavailable
from streamsvc.venues.models import Venue

__all__ = ["MailDeliveryError", "expire", "issue_free", "mail_tickets", "reconcile_pending"]
log = logging.getLogger(__name__)


def issue_free(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """Settle a free order (total 0) in the transaction that reserved it.

    Its seats go from held to sold under the same row locks as the hold, its tickets
    are issued and `TicketsIssued` sends the mail, as for a payment of 0: no
    PaymentIntent, `paid_amount` 0, `paid_at` set (the mark of a settled order), status
    `paid`. No balance transaction exists for it, so the ledger posts nothing.
    """
    if order.total_amount != 0 or order.paid_at is not None:
        return
    settlement.record_payment(uow, order, 0, now)


def mail_tickets(database: Database, settings: Settings, order_id: str, now: datetime) -> bool:
    """Send the tickets of a paid order once; False when there is nothing (more) to send.

    The order's row stays locked from the check to the mark, across the send: a second
    attempt running at the same time (the outbox relay and a retried task) waits, then
    finds the order mailed. Only a crash after the SMTP server took the mail but
    before the commit sends it again, which is better than never.
    """
    with database.unit_of_work() as uow:
        session = uow.session
        order = lock_order(session, order_id)
        # paid_at, not paid_amount: a free order has tickets and paid nothing.
        if order is None or order.tickets_mailed_at is not None or order.paid_at is None:
            return False
        tickets = list(session.exec(
            select(Ticket, Tier.name, Tier.in_venue)
            .join(Tier, col(Tier.id) == col(Ticket.tier_id))
            .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.valid)
            .order_by(col(Ticket.order_item_id), col(Ticket.serial))
        ))  # fmt: skip
        if not tickets:
            return False
        event = session.get(Event, order.event_id)
        venue = session.get(Venue, order.venue_id)
        assert event is not None and venue is not None
        mail = TicketMail(
            to=order.email, locale=mail_locale(order.locale), order_id=order.id,
            event_title=event.title, venue_name=venue.name, starts_at=event.starts_at,
            timezone=event.timezone, doors_open_minutes=event.doors_open_minutes,
            # A seat ticket carries its QR code for the door, as on the order page.
            tickets=[TicketLine(code=t.code, tier_name=name, ticket_id=t.id,
                                qr_png=seats.qr_png(t.code) if in_venue else None)
                     for t, name, in_venue in tickets],
            watch_url=settings.watch_url,
            order_url=_order_link(settings, order),
        )  # fmt: skip
        # A failed send raises: the lock is released by the rollback, nothing marked.
        sender_from_settings(settings).send(render_ticket_mail(mail, settings.mail_from, now=now))
        order.tickets_mailed_at = now
        session.add(order)
    return True


def _order_link(settings: Settings, order: Order) -> str | None:
    token = recover_order_token(settings, order.id, order.token_hash)
    return order_page_link(settings, order.id, token) if token else None


def expire(database: Database, gateway: PaymentGateway, order_id: str, now: datetime) -> None:
    """Cancel an unpaid order's PaymentIntent, then release its capacity.

    If the intent turns out to have succeeded, the order is paid instead: the
    money arrived, only its webhook had not (yet).
    """
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        if order is None or order.status != OrderStatus.pending:
            return
        intent_id = order.payment_intent_id
    intent = None
    if intent_id is not None:
        try:
            intent = gateway.cancel_payment_intent(
                intent_id, idempotency_key=f"order:{order_id}:cancel"
            )
        except PaymentProviderUnavailable:
            log.warning("could not cancel %s for order %s; will retry", intent_id, order_id)
            return
    with database.unit_of_work() as uow:
        order = lock_order(uow.session, order_id)
        if order is None or order.status != OrderStatus.pending:
            return
        if intent is not None and intent.status == "succeeded":
            settlement.record_payment(uow, order, intent.amount, now)
        else:
            release_hold(uow.session, order, OrderStatus.expired, now)


def reconcile_pending(
    database: Database, gateway: PaymentGateway, order_id: str, now: datetime
) -> None:
    """Apply what Stripe says about a pending order's PaymentIntent (lost webhooks)."""
    with database.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        if order is None or order.status != OrderStatus.pending or order.payment_intent_id is None:
            return
        intent_id = order.payment_intent_id
    try:
        intent = gateway.retrieve_payment_intent(intent_id)
    except PaymentProviderUnavailable:
        return
    with database.unit_of_work() as uow:
        order = lock_order(uow.session, order_id)
        if order is None or order.status != OrderStatus.pending:
            return
        if intent.status == "succeeded":
            settlement.record_payment(uow, order, intent.amount, now)
        elif intent.status == "canceled":
            settlement.record_payment_failure(uow.session, order, OrderStatus.failed, now)
