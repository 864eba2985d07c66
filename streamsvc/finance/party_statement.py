"""A party's statement for a period: a printable HTML page, in the party's language.

It lists the party's split rows (from `exports.rows`, so from the ledger) with each
event's or recording's waterfall and the party's part, and their totals. The words
come from the pages' gettext catalogs and the amounts, dates and percentages from
Babel (template: streamsvc/web/templates/documents/party_statement.html).

A party of archive recordings (a rights holder, or the venue or a performer a
recording's rule names) also gets a line per recording: its plays in the period,
what was split of it and the party's part. A play is a device starting the
recording, counted once per access, device and day, whatever the access (rental,
purchase, free, included with a ticket): `recording_plays`, written at each session
start (recordings/plays.py), since sessions themselves live in Redis alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from streamsvc.catalog.models import Performer
from streamsvc.errors import NotFound, ValidationFailed
from streamsvc.finance.exports import (
    AT,
    PARTY_AT,
    REFERENCE_AT,
    Row,
    SplitFilter,
    Totals,
    as_dict,
    rows,
)  # fmt: skip
from streamsvc.recordings.models import RightsHolder
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
PARTY_TYPES = ("venue", "performer", "rights_holder")


@dataclass(frozen=True)
class RecordingLine:
    """One archive recording on a party's statement, for the statement's period."""

    recording_id: str
    title: str
    currency: str
    plays: int  # devices starting it in the period, once a day each (module docstring)
    distributable: int  # what its splits posted in the period left to share
    party_amount: int  # the party's part of those splits (its ledger entries)


def render(
    rows: Iterable[Row], *, party_name: str, venue_name: str, since: date,
    until: date, lang: str, vat_rates: Sequence[tuple[int, int]] = (),
    recordings: Sequence[RecordingLine] = (),
) -> str:  # fmt: skip
    """The statement's HTML; `vat_rates` ((rate bps, VAT), from `vat_rates_of`) is shown
    only when it accounts for the whole VAT total (older splits kept no breakdown);
    `recordings` (from `recording_lines`) are the archive recordings' plays and money."""
    totals, listed = Totals(), []
    for record in rows:
        totals.add(record)
        listed.append(as_dict(record))
    currency = next(iter(totals.currencies)) if len(totals.currencies) == 1 else None
    complete = sum(amount for _, amount in vat_rates) == totals.sums["vat"]
    # Eleven money columns do not fit an A4 page: a party that sold no season pass in
    # the period (recordings' holders never do) is spared that column of zeros.
    figures = [name for name in FIGURES
               if name != "pass_revenue" or any(row[name] for row in listed)]  # fmt: skip
    return render_document("party_statement.html", lang, {
        "party_name": party_name, "venue_name": venue_name, "since": since, "until": until,
        "rows": listed, "figures": figures, "labels": LABELS, "sums": totals.sums,
        "currency": currency, "vat_rates": list(vat_rates) if complete else [],
        "has_events": any(row["event_id"] for row in listed),
        "has_recordings": any(row["recording_id"] for row in listed),
        "recordings": list(recordings),
    })  # fmt: skip


def party_name(session: Session, venue: Venue, party_type: str, party_id: str) -> str:
    """The name of one of the venue's parties (the venue itself, its performer or its
    rights holder); 404 for anything else, another venue's performer or rights holder
    included."""
    if party_type == "performer":
        return owned(session, Performer, party_id, venue.id).name
    if party_type == "rights_holder":
        return owned(session, RightsHolder, party_id, venue.id).name
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


# The venue's recordings on a party's statement: those it has split rows of in the
# period, and those whose rule (any version) names the party and that were played in
# the period. Their plays and distributable are the period's; see the module docstring
# for what a play is.
_RECORDINGS = text("""
SELECT r.id, r.title, r.currency,
       (SELECT count(*) FROM recording_plays p
         WHERE p.recording_id = r.id
           AND p.started_at >= :since AND p.started_at < :until) AS plays,
       (SELECT coalesce(sum(sp.distributable), 0) FROM split_postings sp
         WHERE sp.recording_id = r.id AND sp.venue_id = r.venue_id
           AND sp.posted_at >= :since AND sp.posted_at < :until) AS distributable
  FROM recordings r
 WHERE r.venue_id = :venue_id
   AND (r.id = ANY(CAST(:listed AS text[])) OR EXISTS (
            SELECT 1 FROM recording_split_rules s
             CROSS JOIN LATERAL jsonb_array_elements(s.shares) AS share
             WHERE s.recording_id = r.id
               AND share -> 'party' ->> 'type' = :party_type
               AND share -> 'party' ->> 'id' = :party_id)
        AND EXISTS (SELECT 1 FROM recording_plays p
                     WHERE p.recording_id = r.id
                       AND p.started_at >= :since AND p.started_at < :until))
 ORDER BY r.title, r.id
""")
_RECORDING_AT = AT["recording_id"]


def recording_lines(
    session: Session, venue: Venue, party: tuple[str, str], period: tuple[datetime, datetime],
    listed: Sequence[Row],
) -> list[RecordingLine]:  # fmt: skip
    """The party's (type, id) recordings for the period [since, until): plays,
    distributable, and its part, summed from its statement's rows `listed`."""
    (party_type, party_id), (since, until) = party, period
    parts: dict[str, int] = {}
    for row in listed:
        if row[_RECORDING_AT]:
            parts[row[_RECORDING_AT]] = parts.get(row[_RECORDING_AT], 0) + row[PARTY_AT]
    found = session.execute(_RECORDINGS, {
        "venue_id": venue.id, "since": since, "until": until, "listed": sorted(parts),
        "party_type": party_type, "party_id": party_id,
    })  # fmt: skip
    return [
        RecordingLine(str(rid), str(title), str(currency), int(plays), int(distributable),
                      parts.get(str(rid), 0))
        for rid, title, currency, plays, distributable in found
    ]  # fmt: skip


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
    recordings = recording_lines(session, venue, (party_type, party_id), (since, until), listed)
    page = render(listed, party_name=name, venue_name=venue.name, since=first, until=last,
                  lang=lang, vat_rates=rates, recordings=recordings)  # fmt: skip
    return name, page
