"""What happens to orders and tickets that others act on after the commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from streamsvc.kit.events import DomainEvent


@dataclass(frozen=True)
class TicketStatusChanged(DomainEvent):
    """Tickets became valid, suspended or revoked: viewing refuses (or lets back in)
    their viewers at once, including one already watching. Must not be lost."""

    durable: ClassVar[bool] = True
    statuses: dict[str, str]  # ticket id -> its new status


@dataclass(frozen=True)
class TicketsIssued(DomainEvent):
    """A paid order's tickets exist: mail them to the buyer. Must not be lost."""

    durable: ClassVar[bool] = True
    order_id: str


@dataclass(frozen=True)
class RefundRequested(DomainEvent):
    """A refund is recorded (staff, a cancellation, a payment with no seat left): send
    it to Stripe, with the idempotency key `refund:{id}`. Must not be lost."""

    durable: ClassVar[bool] = True
    refund_id: str


@dataclass(frozen=True)
class CancellationRequested(DomainEvent):
    """An event's cancellation job exists: a worker settles its orders (a re-run
    resumes it and refunds nothing twice). Must not be lost."""

    durable: ClassVar[bool] = True
    job_id: str


@dataclass(frozen=True)
class RescheduleNoticeIssued(DomainEvent):
    """An event with sales was rescheduled: mail this buyer the new time and the link to
    ask for a refund (orders/rescheduling.py sends it once). Must not be lost."""

    durable: ClassVar[bool] = True
    notice_id: str


@dataclass(frozen=True)
class PassPaid(DomainEvent):
    """A season pass's order is paid: mail the holder the pass code. Must not be lost."""

    durable: ClassVar[bool] = True
    order_id: str


@dataclass(frozen=True)
class RecordingAccessIssued(DomainEvent):
    """A recording's order is paid (or free) and its access exists: mail the buyer the
    watch link, code in the fragment (recordings/mail.py). Must not be lost."""

    durable: ClassVar[bool] = True
    order_id: str


@dataclass(frozen=True)
class RecordingAccessStatusChanged(DomainEvent):
    """Recording accesses became valid, suspended or revoked (a refund, a dispute): as
    TicketStatusChanged for tickets, viewing refuses (or lets back in) their viewers at
    once. Must not be lost."""

    durable: ClassVar[bool] = True
    statuses: dict[str, str]  # recording access id -> its new status
