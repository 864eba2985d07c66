"""The payment rail a batch is paid by: a small protocol, so that a rail other than a
SEPA file (Stripe Connect transfers, later) fits without touching runs or pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from streamsvc.errors import DependencyUnavailable
from streamsvc.payouts.models import PayoutBatch, PayoutLine


class RailNotConfigured(DependencyUnavailable):
    """A setting the rail needs is missing; the message names it."""

    code = "payout_rail_not_configured"


@dataclass(frozen=True)
class Instruction:
    """What the operator hands to the bank (or what a rail sent): a file."""

    filename: str
    media_type: str
    content: bytes


class PayoutRail(Protocol):
    """How a batch's money reaches the parties.

    CONTRACT
      name           a short, stable name stored on each batch ("sepa").
      refusal(iban, currency)
                     why this rail cannot pay that account in that currency (a held
                     line's reason, e.g. "not_sepa"), None when it can. Pure: no I/O.
      instruction(batch, lines, venue_name, now)
                     the instruction for the lines (all of them `pending` or `paid`,
                     of `batch`): the bank file, or the rail's record of what it sent.
                     Each line is one transfer of exactly `line.amount` minor units of
                     `batch.currency` to `line.iban` / `line.holder`, identified end to
                     end by `line.id`. It moves no money itself and writes nothing:
                     marking the batch paid is the operator's act (runs.mark_paid).
                     Raises RailNotConfigured naming a missing setting.
    """

    name: str

    def refusal(self, iban: str, currency: str) -> str | None: ...

    def instruction(
        self, batch: PayoutBatch, lines: Sequence[PayoutLine], venue_name: str, now: datetime
    ) -> Instruction: ...
