"""The payouts' policy and rail, from the settings (built where they are used)."""

from __future__ import annotations

from config.settings import Settings
from streamsvc.payouts.rail import PayoutRail
from streamsvc.payouts.runs import Policy
from streamsvc.payouts.sepa import SepaRail


def policy(settings: Settings) -> Policy:
    return Policy(delay_days=settings.payout_delay_days, threshold=settings.payout_threshold)


def rail(settings: Settings) -> PayoutRail:
    """The rail batches are paid by: a SEPA file today (Stripe Connect would go here)."""
    return SepaRail(settings)
