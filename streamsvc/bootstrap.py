"""The one place where domain events meet their handlers, for the API and the worker.

Both build their message bus here from what they hold (a Redis client, a way to
enqueue a task), so an effect wired for one is wired for the other.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from config.settings import Settings
from streamsvc.finance.events import ReconciliationRequested
from streamsvc.listings.cache import announce_change, watch_catalogue_writes
from streamsvc.listings.events import CatalogueChanged
from streamsvc.orders.events import (
    CancellationRequested,
    RefundRequested,
    TicketsIssued,
    TicketStatusChanged,
)
from streamsvc.outbox.bus import MessageBus
from streamsvc.payments.events import PayoutReported, StripeEventReceived
from streamsvc.staff.events import InvitationIssued, PasswordResetRequested
from streamsvc.viewing.revocation import RevocationMirror

Enqueue = Callable[[str, str], None]


def message_bus(settings: Settings, redis_client: redis.Redis, enqueue: Enqueue) -> MessageBus:
    bus = MessageBus()
    mirror = RevocationMirror(redis_client, settings)

    def mirror_ticket_statuses(event: TicketStatusChanged) -> None:
        mirror(event.statuses)

    def mail_tickets(event: TicketsIssued) -> None:
        enqueue("orders.send_tickets", event.order_id)

    # Accepted work handed to a worker. Each task is idempotent (the inbox applies an
    # event once, a refund is sent with its own idempotency key, a finished job is not
    # run again), so the relay may enqueue again what the fast path already sent.
    def process_stripe_event(event: StripeEventReceived) -> None:
        enqueue("payments.process_stripe_event", event.event_id)

    def submit_refund(event: RefundRequested) -> None:
        enqueue("payments.submit_refund", event.refund_id)

    def run_cancellation(event: CancellationRequested) -> None:
        enqueue("orders.run_cancellation", event.job_id)

    def reconcile(event: ReconciliationRequested) -> None:
        enqueue("finance.reconcile", event.job_id)

    def post_payout(event: PayoutReported) -> None:
        enqueue("finance.post_stripe_payout", event.payout_id)

    # Staff mails: the worker mails a link while it is open (used or expired: not at all).
    def mail_invitation(event: InvitationIssued) -> None:
        enqueue("staff.send_invitation", event.invitation_id)

    def mail_password_reset(event: PasswordResetRequested) -> None:
        enqueue("staff.send_password_reset", event.reset_id)

    def catalogue_changed(_event: CatalogueChanged) -> None:
        announce_change(redis_client)

    watch_catalogue_writes()
    bus.register(CatalogueChanged, catalogue_changed)
    bus.register(TicketStatusChanged, mirror_ticket_statuses)
    bus.register(TicketsIssued, mail_tickets)
    bus.register(StripeEventReceived, process_stripe_event)
    bus.register(RefundRequested, submit_refund)
    bus.register(CancellationRequested, run_cancellation)
    bus.register(ReconciliationRequested, reconcile)
    bus.register(PayoutReported, post_payout)
    bus.register(InvitationIssued, mail_invitation)
    bus.register(PasswordResetRequested, mail_password_reset)
    return bus
