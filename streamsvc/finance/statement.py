"""An event's (or an archive recording's) statement, read from the ledger (never
recomputed from orders).

The reconciliation postings give gross, refunds, disputes and Stripe fees; the
split postings give VAT, the platform fee, recouped costs and each party's share.
`distributable` is what is left after all of them, so the parties sum to it
exactly once the split is current; `undistributed` says what is not (yet) shared:
a loss carried over (negative), or money reconciled since the last split.

A recording's money takes the same road as an event's (finance/subjects.py): its
statement is the same figures under its own accounts, with its rights holders among
the parties, and no season pass money (a pass covers events only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlmodel import Session, col, select

from streamsvc.catalog.coproducers import version_in_force
from streamsvc.catalog.models import Event, SplitRule
from streamsvc.finance import accounts, subjects
from streamsvc.finance.splitting import Rule, split_so_far
from streamsvc.finance.subjects import Subject
from streamsvc.kit.described import money
from streamsvc.ledger.service import balances
from streamsvc.recordings.models import Recording, RecordingSplitRule


class StatementCost(BaseModel):
    label: str = Field(description="What the cost is for, as the split rule names it.")
    amount: int = Field(description=money("Recouped so far"))


class PartyRef(BaseModel):
    type: str = Field(description="`venue`, `performer` or (a recording's) `rights_holder`.")
    id: str = Field(
        description="The venue's id (`ven_…`), the performer's (`prf_…`) or the rights "
        "holder's (`rhd_…`)."
    )


class StatementVatRate(BaseModel):
    rate_bps: int = Field(description="The VAT rate in basis points (900 is 9 %).")
    vat: int = Field(description=money("The VAT at this rate"))


class StatementParty(BaseModel):
    party: PartyRef = Field(description="Who this share goes to.")
    bps: int = Field(description="Its share in basis points, under the latest rule version.")
    amount: int = Field(description=money("Its part so far"))


class Figures(BaseModel):
    """The statement's figures, of an event or of a recording."""

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


class Statement(Figures):
    event_id: str = Field(description="The event's id (`evt_…`).")


class RecordingStatement(Figures):
    """An archive recording's statement: the figures of an event's, its rights holders
    among the parties; `pass_revenue` and `pass_fees` are always 0."""

    recording_id: str = Field(description="The recording's id (`rec_…`).")


# `{column}` is a Subject's column: one of two constants, never input.
_VAT_RATES = """
SELECT r.key::int, sum(r.value::bigint) FROM split_postings sp, jsonb_each_text(sp.vat_rates) r
 WHERE sp.{column} = :e GROUP BY 1 HAVING sum(r.value::bigint) <> 0 ORDER BY 1
"""
_SPLIT_AT = "SELECT max(posted_at) FROM split_postings WHERE {column} = :e"


def statement(session: Session, event: Event) -> Statement:
    # The version in force (one waiting for a co-producer's consent does not split yet).
    in_force = version_in_force(session, event.id)
    rule = session.exec(select(SplitRule).where(SplitRule.event_id == event.id,
                                                SplitRule.version == in_force)).first()  # fmt: skip
    return Statement(event_id=event.id, **_figures(session, subjects.of_event(event), rule))


def recording_statement(session: Session, recording: Recording) -> RecordingStatement:
    """The recording's statement; every version of a recording's rule is in force, the
    latest names its costs and shares."""
    rule = session.exec(
        select(RecordingSplitRule).where(RecordingSplitRule.recording_id == recording.id)
        .order_by(col(RecordingSplitRule.version).desc())
    ).first()  # fmt: skip
    figures = _figures(session, subjects.of_recording(recording), rule)
    return RecordingStatement(recording_id=recording.id, **figures)


def _figures(session: Session, subject: Subject, rule: Rule | None) -> dict[str, Any]:
    """The subject's figures (the fields of `Figures`) under its rule version `rule`."""
    codes = [accounts.sales(subject.id), accounts.refunds(subject.id),
             accounts.disputes(subject.id), accounts.stripe_fees(subject.id)]  # fmt: skip
    reconciled = balances(session, subject.venue_id, subject.currency, codes)
    gross, refunds, disputes, fees = (reconciled.get(code, 0) for code in codes)
    gross = -gross  # sales are credits
    split = split_so_far(session, subject)
    vat, platform = -split.get(accounts.VAT_PAYABLE, 0), -split.get(accounts.PLATFORM_FEES, 0)
    labels = [str(cost["label"]) for cost in rule.costs] if rule else []
    costs = [StatementCost(label=label,
                           amount=-split.get(accounts.cost_recouped(subject.id, i), 0))
             for i, label in enumerate(labels)]  # fmt: skip
    shares = {accounts.party(s["party"]): int(s["bps"]) for s in (rule.shares if rule else [])}
    paid = {code: -amount for code, amount in split.items() if accounts.party_of(code)}
    parties = []
    for code in [*shares, *sorted(set(paid) - set(shares))]:
        kind, party_id = accounts.party_of(code) or ("", "")
        ref = PartyRef(type=kind, id=party_id)
        parties.append(StatementParty(party=ref, bps=shares.get(code, 0), amount=paid.get(code, 0)))
    pass_codes = [accounts.pass_revenue(subject.id), accounts.pass_fees(subject.id)]
    passes = balances(session, subject.venue_id, subject.currency, pass_codes)
    pass_revenue = -passes.get(pass_codes[0], 0)  # a credit
    pass_fees = passes.get(pass_codes[1], 0)
    revenue_ex_vat = gross - refunds - disputes - vat + pass_revenue
    distributable = (revenue_ex_vat - fees - pass_fees - platform
                     - sum(cost.amount for cost in costs))  # fmt: skip
    by_subject = {"e": subject.id}
    by_rate = session.execute(text(_VAT_RATES.format(column=subject.column)), by_subject)
    vat_rates = [StatementVatRate(rate_bps=int(rate), vat=int(amount)) for rate, amount in by_rate]
    split_at = session.execute(text(_SPLIT_AT.format(column=subject.column)), by_subject).scalar()
    return {
        "currency": subject.currency, "gross": gross, "refunds": refunds,
        "disputes": disputes, "vat": vat, "vat_rates": vat_rates, "pass_revenue": pass_revenue,
        "pass_fees": pass_fees, "revenue_ex_vat": revenue_ex_vat, "stripe_fees": fees,
        "platform_fee": platform, "costs": costs, "distributable": distributable,
        "parties": parties,
        "undistributed": distributable - sum(party.amount for party in parties),
        "split_at": split_at,
    }  # fmt: skip
