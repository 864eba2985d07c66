"""A party's statement for a period: a printable HTML page, in the party's language.

It lists the party's split rows (from `exports.rows`, so from the ledger) with each
event's waterfall and the party's part, and their totals. The words come from the
pages' gettext catalogs and the amounts, dates and percentages from Babel
(template: streamsvc/web/templates/documents/party_statement.html).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from streamsvc.catalog.models import Performer
from streamsvc.errors import NotFound, ValidationFailed
from streamsvc.finance.exports import REFERENCE_AT, Row, SplitFilter, Totals, as_dict, rows
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned
from streamsvc.web.documents import render_document
from streamsvc.web.rendering import N_

FIGURES = ("gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee", "costs",
           "pass_revenue", "distributable", "party_amount")  # fmt: skip
LABELS = {
    "gross": N_("Gross"), "refunds": N_("Refunds"), "disputes": N_("Disputes"),
    "vat": N_("VAT"), "stripe_fees": N_("Payment fees"), "platform_fee": N_("Platform fee"),
    "costs": N_("Costs"), "distributable": N_("Distributable"), "party_amount": N_("Your part"),
    "pass_revenue": N_("Season passes"),  # recognised for the event, net of VAT
}  # fmt: skip


def render(
    rows: Iterable[Row], *, party_name: str, venue_name: str, since: date,
    until: date, lang: str, vat_rates: Sequence[tuple[int, int]] = (),
) -> str:  # fmt: skip
    """The statement's HTML; `vat_rates` ((rate bps, VAT), from `vat_rates_of`) is shown
    only when it accounts for the whole VAT total (older splits kept no breakdown)."""
    totals, listed = Totals(), []
    for record in rows:
        totals.add(record)
        listed.append(as_dict(record))
    currency = next(iter(totals.currencies)) if len(totals.currencies) == 1 else None
    complete = sum(amount for _, amount in vat_rates) == totals.sums["vat"]
    return render_document("party_statement.html", lang, {
        "party_name": party_name, "venue_name": venue_name, "since": since, "until": until,
        "rows": listed, "figures": FIGURES, "labels": LABELS, "sums": totals.sums,
        "currency": currency, "vat_rates": list(vat_rates) if complete else [],
    })  # fmt: skip


def party_name(session: Session, venue: Venue, party_type: str, party_id: str) -> str:
    """The name of one of the venue's parties (the venue itself, or its performer); 404
    for anything else, another venue's performer included."""
    if party_type == "performer":
        return owned(session, Performer, party_id, venue.id).name
    if party_type == "venue" and party_id == venue.id:
        return venue.name
    raise NotFound("No such party.")


def period(venue: Venue, first: date, last: date) -> tuple[datetime, datetime]:
    """The days `first`..`last` (both included) in the venue's timezone, as instants."""
    if first > last:
        raise ValidationFailed("The period is empty.", fields={"from": "must not be after to"})
    zone = ZoneInfo(venue.timezone)
    return datetime.combine(first, time(), zone), datetime.combine(last + timedelta(days=1),
                                                                   time(), zone)  # fmt: skip


_VAT_RATES = text("""
SELECT r.key::int, sum(r.value::bigint)
  FROM split_postings sp
  JOIN ledger_transactions t ON t.id = sp.transaction_id
 CROSS JOIN LATERAL jsonb_each_text(sp.vat_rates) AS r
 WHERE t.reference = ANY(:references)
 GROUP BY 1 HAVING sum(r.value::bigint) <> 0 ORDER BY 1
""")


def vat_rates_of(session: Session, references: Sequence[str]) -> list[tuple[int, int]]:
    """The VAT per rate of these split postings (by ledger reference), rates ascending."""
    found = session.execute(_VAT_RATES, {"references": sorted(set(references))})
    return [(int(rate), int(amount)) for rate, amount in found]


def document(
    session: Session, engine: Engine, venue: Venue, *, party_type: str, party_id: str,
    first: date, last: date, lang: str,
) -> tuple[str, str]:  # fmt: skip
    """(the party's name, its statement's HTML) for the days `first`..`last`."""
    name = party_name(session, venue, party_type, party_id)
    since, until = period(venue, first, last)
    where = SplitFilter(venue.id, since, until, party=f"{party_type}:{party_id}")
    listed = list(rows(engine, where))  # one party's splits of a period: a few hundred
    rates = vat_rates_of(session, [row[REFERENCE_AT] for row in listed])
    page = render(listed, party_name=name, venue_name=venue.name, since=first, until=last,
                  lang=lang, vat_rates=rates)  # fmt: skip
    return name, page
