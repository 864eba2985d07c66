"""A party's statement for a period: a printable HTML page, in Dutch or English.

It lists the party's split rows (from `exports.rows`, so from the ledger) with each
event's waterfall and the party's part, and their totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from html import escape

from streamsvc.finance.exports import Row, Totals, as_dict
from streamsvc.kit.money import decimal_text, exponent

LABELS = {
    "en": {"title": "Statement", "for": "for", "period": "Period", "event": "Event",
           "date": "Date", "gross": "Gross", "refunds": "Refunds", "disputes": "Disputes",
           "vat": "VAT", "stripe_fees": "Payment fees", "platform_fee": "Platform fee",
           "costs": "Costs", "distributable": "Distributable", "share": "Share",
           "party_amount": "Your part", "total": "Total",
           "none": "Nothing was split in this period.",
           "note": "Amounts per split: the change since the previous split of the event."},
    "nl": {"title": "Afrekening", "for": "voor", "period": "Periode", "event": "Voorstelling",
           "date": "Datum", "gross": "Bruto", "refunds": "Terugbetaald", "disputes": "Betwist",
           "vat": "Btw", "stripe_fees": "Betaalkosten", "platform_fee": "Platformvergoeding",
           "costs": "Kosten", "distributable": "Te verdelen", "share": "Aandeel",
           "party_amount": "Uw deel", "total": "Totaal",
           "none": "In deze periode is niets verdeeld.",
           "note": "Bedragen per verdeling: de verandering sinds de vorige verdeling."},
}  # fmt: skip
FIGURES = ("gross", "refunds", "disputes", "vat", "stripe_fees", "platform_fee", "costs",
           "distributable", "party_amount")  # fmt: skip

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #111; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { padding: 0.3rem 0.5rem; border-bottom: 1px solid #ccc; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tfoot td { font-weight: bold; border-top: 2px solid #111; }
@media print { body { margin: 0; } a { color: inherit; } }
"""


def amount(minor: int, currency: str, lang: str) -> str:
    """1234.56 as `1,234.56` (en) or `1.234,56` (nl), with the currency code."""
    written = decimal_text(minor, exponent(currency))
    sign, digits = ("-", written[1:]) if written.startswith("-") else ("", written)
    whole, _, frac = digits.partition(".")
    thousands, point = (".", ",") if lang == "nl" else (",", ".")
    grouped = f"{int(whole):,}".replace(",", thousands)
    return f"{currency} {sign}{grouped}{point + frac if frac else ''}"


def render(
    rows: Iterable[Row], *, party_name: str, venue_name: str, since: date,
    until: date, lang: str,
) -> str:  # fmt: skip
    words = LABELS[lang]
    body, totals = [], Totals()
    for record in rows:
        totals.add(record)
        row = as_dict(record)
        cells = "".join(f'<td class="n">{amount(row[name], row["currency"], lang)}</td>'
                        for name in FIGURES)  # fmt: skip
        body.append(f"<tr><td>{escape(row['event_title'])}</td><td>{row['event_date']}</td>"
                    f'<td class="n">{row["share_bps"] / 100:g}%</td>{cells}</tr>')  # fmt: skip
    heads = "".join(f'<th class="n">{words[name]}</th>' for name in FIGURES)
    currency = next(iter(totals.currencies)) if len(totals.currencies) == 1 else None
    foot = ""
    if body and currency:
        sums = "".join(f'<td class="n">{amount(totals.sums[name], currency, lang)}</td>'
                       for name in FIGURES)  # fmt: skip
        foot = f'<tfoot><tr><td colspan="3">{words["total"]}</td>{sums}</tr></tfoot>'
    table = (f"<table><thead><tr><th>{words['event']}</th><th>{words['date']}</th>"
             f'<th class="n">{words["share"]}</th>{heads}</tr></thead>'
             f"<tbody>{''.join(body)}</tbody>{foot}</table>"
             if body else f"<p>{words['none']}</p>")  # fmt: skip
    title = f"{words['title']} {words['for']} {escape(party_name)}"
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{title}</h1><p>{escape(venue_name)} · {words['period']} "
            f"{since.isoformat()} &ndash; {until.isoformat()}</p>{table}"
            f"<p><small>{words['note']}</small></p></body></html>")  # fmt: skip
