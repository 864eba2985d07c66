"""A party's statement for a period: a printable HTML page, in the party's language.

It lists the party's split rows (from `exports.rows`, so from the ledger) with each
event's waterfall and the party's part, and their totals. The words come from the
pages' gettext catalogs and the amounts, dates and percentages from Babel
(template: streamsvc/web/templates/documents/party_statement.html).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from streamsvc.finance.exports import Row, Totals, as_dict
from streamsvc.web.documents import render_document
from streamsvc.web.rendering import N_

FIGURES = ("gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee", "costs",
           "distributable", "party_amount")  # fmt: skip
LABELS = {
    "gross": N_("Gross"), "refunds": N_("Refunds"), "disputes": N_("Disputes"),
    "vat": N_("VAT"), "stripe_fees": N_("Payment fees"), "platform_fee": N_("Platform fee"),
    "costs": N_("Costs"), "distributable": N_("Distributable"), "party_amount": N_("Your part"),
}  # fmt: skip


def render(
    rows: Iterable[Row], *, party_name: str, venue_name: str, since: date,
    until: date, lang: str,
) -> str:  # fmt: skip
    totals, listed = Totals(), []
    for record in rows:
        totals.add(record)
        listed.append(as_dict(record))
    currency = next(iter(totals.currencies)) if len(totals.currencies) == 1 else None
    return render_document("party_statement.html", lang, {
        "party_name": party_name, "venue_name": venue_name, "since": since, "until": until,
        "rows": listed, "figures": FIGURES, "labels": LABELS, "sums": totals.sums,
        "currency": currency,
    })  # fmt: skip
