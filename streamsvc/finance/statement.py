"""An event's statement, read from the ledger (never recomputed from orders).

The reconciliation postings give gross, refunds, disputes and Stripe fees; the
split postings give VAT, the platform fee, recouped costs and each party's share.
`distributable` is what is left after all of them, so the parties sum to it
exactly once the split is current; `undistributed` says what is not (yet) shared:
a loss carried over (negative), or money reconciled since the last split.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlmodel import Session, select

from streamsvc.catalog.coproducers import version_in_force
from streamsvc.catalog.models import Event, SplitRule
from streamsvc.finance import accounts
from streamsvc.finance.splitting import split_so_far
from streamsvc.kit.described import money
from streamsvc.ledger.service import balances


class StatementCost(BaseModel):
    label: str = Field(description="What the cost is for, as the split rule names it.")
    amount: int = Field(description=money("Recouped so far"))


class PartyRef(BaseModel):
    type: str = Field(description="`venue` or `performer`.")
    id: str = Field(description="The venue's id (`ven_…`) or the performer's (`prf_…`).")


class StatementVatRate(BaseModel):
    rate_bps: int = Field(description="The VAT rate in basis points (900 is 9 %).")
    vat: int = Field(description=money("The VAT at this rate"))


class StatementParty(BaseModel):
    party: PartyRef = Field(description="Who this share goes to.")
    bps: int = Field(description="Its share in basis points, under the latest rule version.")
    amount: int = Field(description=money("Its part so far"))


class Statement(BaseModel):
    event_id: str = Field(description="The event's id (`evt_…`).")
    currency: str = Field(description="ISO 4217 code of every amount of the statement.")
    gross: int = Field(description=money("What buyers paid"))
    refunds: int = Field(description=money("Refunded to buyers"))
    disputes: int = Field(description=money("Withdrawn by disputes and not reinstated"))
    vat: int = Field(description=money("VAT on what buyers kept paying"))
    vat_rates: list[StatementVatRate] = Field(
        default=[],
        description="The split VAT by rate, rates ascending (a bundle has parts at several "
        "rates); sums to `vat` for splits made since it is kept.",
    )
    pass_revenue: int = Field(
        default=0,
        description=money("Season pass money recognised for this event, net of VAT")
        + " Its share of every pass covering it, once it ended; the pass's VAT was due "
        "when the pass was paid.",
    )
    pass_fees: int = Field(default=0, description=money("Its share of the passes' Stripe fees"))
    revenue_ex_vat: int = Field(
        description=money("Gross less refunds, disputes and VAT, plus pass revenue")
    )
    stripe_fees: int = Field(description=money("Stripe's fees, dispute fees included"))
    platform_fee: int = Field(description=money("The platform's fee"))
    costs: list[StatementCost] = Field(description="The split rule's costs, recouped in order.")
    distributable: int = Field(description=money("What is left for the parties"))
    parties: list[StatementParty] = Field(description="Each party's share of distributable.")
    undistributed: int = Field(
        description=money("Distributable less the parties' parts")
        + " 0 when the split is current; negative: a loss carried over; positive: money "
        "reconciled since the last split."
    )
    split_at: datetime | None = Field(
        description="The latest split posting: RFC 3339 with offset; null: never split."
    )


_VAT_RATES = text("""
SELECT r.key::int, sum(r.value::bigint) FROM split_postings sp, jsonb_each_text(sp.vat_rates) r
 WHERE sp.event_id = :e GROUP BY 1 HAVING sum(r.value::bigint) <> 0 ORDER BY 1
""")


def statement(session: Session, event: Event) -> Statement:
    # The version in force (one waiting for a co-producer's consent does not split yet).
    in_force = version_in_force(session, event.id)
    rule = session.exec(select(SplitRule).where(SplitRule.event_id == event.id,
                                                SplitRule.version == in_force)).first()  # fmt: skip
    codes = [accounts.sales(event.id), accounts.refunds(event.id), accounts.disputes(event.id),
             accounts.stripe_fees(event.id)]  # fmt: skip
    reconciled = balances(session, event.venue_id, event.currency, codes)
    gross, refunds, disputes, fees = (reconciled.get(code, 0) for code in codes)
    gross = -gross  # sales are credits
    split = split_so_far(session, event.id)
    vat, platform = -split.get(accounts.VAT_PAYABLE, 0), -split.get(accounts.PLATFORM_FEES, 0)
    labels = [str(cost["label"]) for cost in rule.costs] if rule else []
    costs = [StatementCost(label=label,
                           amount=-split.get(accounts.cost_recouped(event.id, i), 0))
             for i, label in enumerate(labels)]  # fmt: skip
    shares = {accounts.party(s["party"]): int(s["bps"]) for s in (rule.shares if rule else [])}
    paid = {code: -amount for code, amount in split.items() if accounts.party_of(code)}
    parties = []
    for code in [*shares, *sorted(set(paid) - set(shares))]:
        kind, party_id = accounts.party_of(code) or ("", "")
        ref = PartyRef(type=kind, id=party_id)
        parties.append(StatementParty(party=ref, bps=shares.get(code, 0), amount=paid.get(code, 0)))
    passes = balances(session, event.venue_id, event.currency,
                      [accounts.pass_revenue(event.id), accounts.pass_fees(event.id)])  # fmt: skip
    pass_revenue = -passes.get(accounts.pass_revenue(event.id), 0)  # a credit
    pass_fees = passes.get(accounts.pass_fees(event.id), 0)
    revenue_ex_vat = gross - refunds - disputes - vat + pass_revenue
    distributable = (revenue_ex_vat - fees - pass_fees - platform
                     - sum(cost.amount for cost in costs))  # fmt: skip
    vat_rates = [StatementVatRate(rate_bps=int(rate), vat=int(amount))
                 for rate, amount in session.execute(_VAT_RATES, {"e": event.id})]  # fmt: skip
    split_at = session.execute(
        text("SELECT max(posted_at) FROM split_postings WHERE event_id = :e"), {"e": event.id}
    ).scalar()
    return Statement(
        event_id=event.id, currency=event.currency, gross=gross, refunds=refunds,
        disputes=disputes, vat=vat, vat_rates=vat_rates, pass_revenue=pass_revenue,
        pass_fees=pass_fees, revenue_ex_vat=revenue_ex_vat,
        stripe_fees=fees,
        platform_fee=platform, costs=costs, distributable=distributable, parties=parties,
        undistributed=distributable - sum(party.amount for party in parties), split_at=split_at,
    )  # fmt: skip
