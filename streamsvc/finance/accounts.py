"""The ledger accounts finance posts to: their codes, in one place.

Per venue: the Stripe balance (available and pending), its payouts to the bank (in
transit, then in the bank), VAT payable, platform fees
and what is payable to each party. Per event: sales, refunds, disputes, Stripe's
fees, each recouped cost, and the distribution side of the split postings.
"""

from __future__ import annotations

from typing import Any

STRIPE_BALANCE = "stripe_balance"
STRIPE_PENDING = "stripe_pending"
# Stripe pays the operator's balance out to its bank: on the way, then arrived.
BANK_IN_TRANSIT = "bank_in_transit"
BANK = "bank"
# Our own payouts to the parties (streamsvc/payouts): what a batch pays leaves the
# party's payable account for here, and goes on to the bank when the bank executed it.
PAYOUTS_IN_TRANSIT = "payouts_in_transit"
VAT_PAYABLE = "vat_payable"
PLATFORM_FEES = "platform_fees"
PARTY_PREFIX = "payable:"


def sales(event_id: str) -> str:
    return f"sales:{event_id}"


def refunds(event_id: str) -> str:
    return f"refunds:{event_id}"


def disputes(event_id: str) -> str:
    return f"disputes:{event_id}"


def stripe_fees(event_id: str) -> str:
    return f"stripe_fees:{event_id}"


def cost_recouped(event_id: str, position: int) -> str:
    return f"costs_recouped:{event_id}:{position}"


def distribution(event_id: str) -> str:
    return f"distribution:{event_id}"


def party(ref: dict[str, Any]) -> str:
    """A split rule's party `{type, id}` as its account, `payable:{type}:{id}`."""
    return f"{PARTY_PREFIX}{ref['type']}:{ref['id']}"


def party_of(code: str) -> tuple[str, str] | None:
    """(type, id) of a party account; None for any other account."""
    if not code.startswith(PARTY_PREFIX):
        return None
    kind, _, party_id = code.removeprefix(PARTY_PREFIX).partition(":")
    return kind, party_id


def of_kind(event_id: str) -> dict[str, str]:
    """The account carrying the gross of each kind of balance transaction."""
    return {"charge": sales(event_id), "refund": refunds(event_id),
            "refund_failure": refunds(event_id), "dispute": disputes(event_id),
            "dispute_reversal": disputes(event_id)}  # fmt: skip


# Season passes (passes/recognition.py). A pass's net is owed to its events until they
# end: a liability per pass product, with the Stripe fee waiting beside it; an event's
# share of it, once recognised, is the event's pass revenue and pass fees.
def deferred_pass(pass_id: str) -> str:
    return f"deferred:pass:{pass_id}"


def deferred_pass_fees(pass_id: str) -> str:
    return f"deferred_fees:pass:{pass_id}"


def pass_revenue(event_id: str) -> str:
    return f"pass_revenue:{event_id}"


def pass_fees(event_id: str) -> str:
    return f"pass_fees:{event_id}"


def pass_fees_kept(pass_id: str) -> str:
    """The fee share of refunded events: Stripe keeps it, the venue bears it."""
    return f"pass_fees_kept:pass:{pass_id}"


def pass_refunds_unallocated(pass_id: str) -> str:
    """Pass money that left (or came back) beyond what its unplayed events held: a
    dashboard refund or lost dispute larger than the pass's deferred money, never taken
    from recognised revenue; the venue bears it, and a finding asks finance to look."""
    return f"pass_refunds_unallocated:pass:{pass_id}"
