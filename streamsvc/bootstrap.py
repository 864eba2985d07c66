"""The one place where domain events meet their handlers, for the API and the worker.

Both build their message bus here from what they hold (a Redis client, a way to
enqueue a task), so an effect wired for one is wired for the other.
"""

from __future__ import annotations

from collections.abc import Callable

from config.settings import Settings
from streamsvc.finance.events import ExportRequested, ReconciliationRequested
from streamsvc.kit.redis_clients import SyncRedis
from streamsvc.listings.cache import announce_change, watch_catalogue_writes
from streamsvc.listings.events import CatalogueChanged
from streamsvc.listings.uitdatabank.watch import wire_listings
from streamsvc.me.events import PerformerDetailsChanged, PerformerSignInRequested
from streamsvc.orders.events import (
    CancellationRequested,
    PassPaid,
    RecordingAccessIssued,
    RecordingAccessStatusChanged,
    RefundRequested,
    RescheduleNoticeIssued,
    TicketsIssued,
    TicketStatusChanged,
)
from streamsvc.outbox.bus import MessageBus
from streamsvc.passes.events import PassTransferred
from streamsvc.payments.events import PayoutReported, StripeEventReceived, StripeEventsReceived
from streamsvc.payouts.events import PayoutBatchPaid
from streamsvc.recordings.events import IncludedRecordingIssued
from streamsvc.staff.events import InvitationIssued, PasswordResetRequested
from streamsvc.viewing.ending import TicketSessionsEnder
from streamsvc.viewing.revocation import RevocationMirror

Enqueue = Callable[[str, str], None]


def _wire_passes(bus: MessageBus, redis_client: SyncRedis, enqueue: Enqueue) -> None:
    """Season passes: a paid pass is mailed; a transferred one ends the previous holder's
    viewing sessions of the tickets that moved, and both people are mailed."""
    end_sessions = TicketSessionsEnder(redis_client)

    def pass_transferred(event: PassTransferred) -> None:
        end_sessions(event.ticket_ids, event.sessions_before_ms)
        enqueue("passes.send_transferred_pass", event.transfer_id)
        enqueue("passes.send_transfer_notice", event.transfer_id)

    bus.register(PassPaid, lambda event: enqueue("passes.send_pass", event.order_id))
    bus.register(PassTransferred, pass_transferred)


def _wire_viewing(bus: MessageBus, mirror: RevocationMirror, enqueue: Enqueue) -> None:
    """What may be watched: a ticket's status, and a recording access's, reach viewing at
    once (the same keys: an access id owns its viewing sessions as a ticket id does), so
    a refund or a dispute stops a viewer, and a dispute won lets them back. A recording,
    bought like a pass (an order of no event's tickets), has its access's watch link
    mailed once it is issued (recordings/mail.py), as is one included with an event's
    ticket (recordings/included.py)."""
    bus.register(RecordingAccessIssued,
                 lambda event: enqueue("recordings.send_access", event.order_id))  # fmt: skip

    def mail_included(event: IncludedRecordingIssued) -> None:
        enqueue("recordings.send_included_access", event.access_id)

    bus.register(IncludedRecordingIssued, mail_included)
    bus.register(RecordingAccessStatusChanged, lambda event: mirror(event.statuses))
    bus.register(TicketStatusChanged, lambda event: mirror(event.statuses))


def _wire_stripe_inbox(bus: MessageBus, enqueue: Enqueue) -> None:
    """Stored webhook events reach the worker: the events of one commit in one message,
    or, should that fail, the inbox sweep sends them (StripeEventReceived: one event,
    durable, as releases before the webhook intake raised it)."""
    task = "payments.process_stripe_event"
    bus.register(StripeEventsReceived, lambda event: enqueue(task, *event.event_ids))
    bus.swept(StripeEventsReceived, "the inbox sweep (payments.sweep_inbox)")
    bus.register(StripeEventReceived, lambda event: enqueue(task, event.event_id))


def message_bus(settings: Settings, redis_client: SyncRedis, enqueue: Enqueue) -> MessageBus:
    bus = MessageBus()
    mirror = RevocationMirror(redis_client, settings)

    def mail_tickets(event: TicketsIssued) -> None:
        enqueue("orders.send_tickets", event.order_id)

    def mail_reschedule_notice(event: RescheduleNoticeIssued) -> None:
        enqueue("orders.send_reschedule_notice", event.notice_id)

    # Accepted work handed to a worker. Each task is idempotent (the inbox applies an
    # event once, a refund is sent with its own idempotency key, a finished job is not
    # run again), so the relay may enqueue again what the fast path already sent.
    def submit_refund(event: RefundRequested) -> None:
        enqueue("payments.submit_refund", event.refund_id)

    def run_cancellation(event: CancellationRequested) -> None:
        enqueue("orders.run_cancellation", event.job_id)

    def reconcile(event: ReconciliationRequested) -> None:
        enqueue("finance.reconcile", event.job_id)

    def build_export(event: ExportRequested) -> None:
        enqueue("finance.build_export", event.job_id)

    def post_payout(event: PayoutReported) -> None:
        enqueue("finance.post_stripe_payout", event.payout_id)

    # A batch the bank executed: each paid party is mailed its payout advice once.
    def mail_payout_advices(event: PayoutBatchPaid) -> None:
        enqueue("payouts.send_advices", event.batch_id)

    # Staff mails: the worker mails a link while it is open (used or expired: not at all).
    def mail_invitation(event: InvitationIssued) -> None:
        enqueue("staff.send_invitation", event.invitation_id)

    def mail_password_reset(event: PasswordResetRequested) -> None:
        enqueue("staff.send_password_reset", event.reset_id)

    # Performers' mails (/me): a sign-in link while it is open, a payout details notice.
    def mail_performer_sign_in(event: PerformerSignInRequested) -> None:
        enqueue("me.send_sign_in_link", event.link_id)

    def mail_performer_details_changed(event: PerformerDetailsChanged) -> None:
        enqueue("me.send_details_changed", event.performer_id)

    def catalogue_changed(_event: CatalogueChanged) -> None:
        announce_change(redis_client)

    watch_catalogue_writes()
    wire_listings(bus, settings, enqueue)  # UiTdatabank: listings/uitdatabank/watch.py
    bus.register(CatalogueChanged, catalogue_changed)
    bus.register(TicketsIssued, mail_tickets)
    _wire_passes(bus, redis_client, enqueue)
    _wire_viewing(bus, mirror, enqueue)
    bus.register(RescheduleNoticeIssued, mail_reschedule_notice)
    _wire_stripe_inbox(bus, enqueue)
    bus.register(RefundRequested, submit_refund)
    bus.register(CancellationRequested, run_cancellation)
    bus.register(ReconciliationRequested, reconcile)
    bus.register(ExportRequested, build_export)
    bus.register(PayoutReported, post_payout)
    bus.register(PayoutBatchPaid, mail_payout_advices)
    bus.register(InvitationIssued, mail_invitation)
    bus.register(PasswordResetRequested, mail_password_reset)
    bus.register(PerformerSignInRequested, mail_performer_sign_in)
    bus.register(PerformerDetailsChanged, mail_performer_details_changed)
    return bus
