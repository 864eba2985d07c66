"""The payout advice: per paid party, what the payment settles, as HTML, PDF and mail.

It lists the statements the payment settles (the split postings whose payable entries
the line claimed: event or recording, split period, the party's part), the amount, the
date the bank executed it and the account it went to (masked). The HTML comes from
templates/documents/payout_advice.html; the PDF is the same HTML (web/pdf.py). When a
batch is marked paid, the worker mails each paid line's party its advice once
(`payouts.send_advices`): a performer or a rights holder at its address, a venue to
its finance members.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from config.settings import Settings
from streamsvc.catalog.models import Performer
from streamsvc.db import Database
from streamsvc.errors import NotFound
from streamsvc.notifications.mail import MailSender
from streamsvc.payouts.details import mask
from streamsvc.payouts.models import PayoutBatch, PayoutLine
from streamsvc.payouts.sepa import remittance
from streamsvc.recordings.models import RightsHolder
from streamsvc.staff.models import Membership, Person
from streamsvc.venues.models import Venue
from streamsvc.web.documents import render_document
from streamsvc.web.pdf import PdfUnavailable, render_pdf

log = logging.getLogger(__name__)
_LANGUAGES = {"NL": "nl", "BE": "nl", "SR": "nl", "FR": "fr", "LU": "fr", "MC": "fr"}


@dataclass(frozen=True)
class Settled:
    """One statement a payment settles: a split of an event or a recording, and the
    party's part. A recording's date is the day it was recorded."""

    event_title: str
    event_date: date
    split_period: str
    amount: int


_SETTLED = text("""
SELECT coalesce(ev.title, r.title, '') AS title, ev.starts_at, r.recorded_on,
       coalesce(sp.period, t.reference) AS period, -sum(e.amount) AS amount
  FROM payout_claims c
  JOIN ledger_entries e ON e.id = c.entry_id
  JOIN ledger_transactions t ON t.id = e.transaction_id
  LEFT JOIN split_postings sp ON sp.transaction_id = t.id
  LEFT JOIN events ev ON ev.id = t.event_id
  LEFT JOIN recordings r ON r.id = t.recording_id
 WHERE c.line_id = :line_id
 GROUP BY t.id, ev.title, ev.starts_at, r.title, r.recorded_on, sp.period, t.reference,
          t.posted_at
 ORDER BY ev.starts_at, t.posted_at, t.id
""")


def settled(session: Session, line_id: str) -> list[Settled]:
    rows = session.execute(_SETTLED, {"line_id": line_id}).all()
    return [
        Settled(
            str(title),
            starts.date() if starts else recorded_on or date.min,
            str(period),
            int(amount),
        )
        for title, starts, recorded_on, period, amount in rows
    ]


def language_of(venue: Venue) -> str:
    return _LANGUAGES.get(venue.country.upper(), "en")


def line_of(
    session: Session, venue_id: str, batch_id: str, line_id: str
) -> tuple[PayoutBatch, PayoutLine]:
    """A line of a batch of the venue, or 404."""
    found = session.exec(
        select(PayoutBatch, PayoutLine)
        .join(PayoutLine, col(PayoutLine.batch_id) == col(PayoutBatch.id))
        .where(
            PayoutBatch.venue_id == venue_id, PayoutBatch.id == batch_id, PayoutLine.id == line_id
        )
    ).first()
    if found is None:
        raise NotFound("No such payout line.")
    return found


def payer_name(session: Session, line: PayoutLine) -> str:
    """Whose books paid the line: the batch's venue, or for a co-producer's share of a
    co-production the lead venue (the line's books, runs.py)."""
    payer = session.get(Venue, line.venue_id)
    assert payer is not None
    return payer.name


def render(session: Session, batch: PayoutBatch, line: PayoutLine, language: str) -> str:
    """The advice of a line as a self-contained HTML document."""
    venue = session.get(Venue, batch.venue_id)
    assert venue is not None
    statements = settled(session, line.id)
    context: dict[str, Any] = {
        "venue_name": payer_name(session, line),
        "party_name": line.party_name,
        "batch": batch,
        "line": line,
        "statements": statements,
        "total": sum(s.amount for s in statements),
        "currency": batch.currency,
        "iban": mask(line.iban) if line.iban else "",
        "remittance": remittance(batch, line, venue.name),
    }
    return render_document("payout_advice.html", language, context)


def recipients(session: Session, line: PayoutLine) -> list[str]:
    """Where the advice goes: the performer, the rights holder, or the paid venue's
    finance members (its admins when it has none)."""
    if line.party_type == "performer":
        performer = session.get(Performer, line.party_id)
        return [performer.email] if performer is not None and performer.email else []
    if line.party_type == "rights_holder":
        holder = session.get(RightsHolder, line.party_id)
        return [holder.email] if holder is not None and holder.email else []
    members = session.exec(
        select(Person.email, Membership.role)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(Membership.venue_id == line.party_id, col(Membership.role).in_(["finance", "admin"]))
    ).all()
    finance = sorted(email for email, role in members if role == "finance")
    return finance or sorted(email for email, _ in members)


def message(
    session: Session, settings: Settings, batch: PayoutBatch, line: PayoutLine, now: datetime
) -> EmailMessage | None:
    """The advice mail of a paid line (text, the HTML advice, the PDF), or None when
    the party has nowhere to mail it."""
    to = recipients(session, line)
    venue = session.get(Venue, batch.venue_id)
    if not to or venue is None:
        return None
    language = language_of(venue)
    html = render(session, batch, line, language)
    context = {
        "venue_name": payer_name(session, line),
        "party_name": line.party_name,
        "batch": batch,
        "line": line,
        "currency": batch.currency,
    }
    mail = EmailMessage()
    mail["Subject"] = " ".join(
        render_document("payout_advice_subject.txt", language, context).split()
    )
    mail["From"] = settings.mail_from
    mail["To"] = ", ".join(to)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid("payout")
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(
        render_document("payout_advice.txt", language, context), cte="quoted-printable"
    )
    mail.add_alternative(html, subtype="html", cte="quoted-printable")
    try:
        mail.add_attachment(
            render_pdf(html),
            maintype="application",
            subtype="pdf",
            filename=f"payout-advice-{batch.period}-{line.id}.pdf",
        )
    except PdfUnavailable:  # the advice is in the mail itself; the PDF is a copy of it
        log.warning("payout advice %s mailed without its PDF: no PDF renderer", line.id)
    mail["Content-Language"] = language
    return mail


def send_advices(
    database: Database, settings: Settings, sender: MailSender, batch_id: str, now: datetime
) -> int:
    """Mail each paid line of the batch its advice, once; how many were mailed.
    A line is marked advised after its mail is handed over (at least once)."""
    with database.unit_of_work() as uow:
        todo = list(
            uow.session.exec(
                select(PayoutLine.id).where(
                    PayoutLine.batch_id == batch_id,
                    PayoutLine.status == "paid",
                    col(PayoutLine.advised_at).is_(None),
                )
            )
        )
    mailed = 0
    for line_id in todo:
        with database.unit_of_work() as uow:
            line = uow.session.get(PayoutLine, line_id, with_for_update=True)
            batch = uow.session.get(PayoutBatch, batch_id)
            if line is None or batch is None or line.advised_at is not None:
                continue
            made = message(uow.session, settings, batch, line, now)
            if made is not None:
                sender.send(made)  # raises MailDeliveryError: the task retries the rest
                mailed += 1
            line.advised_at = now
            uow.session.add(line)
    return mailed
