"""The mail that hands a recording's access to its buyer: the watch link, code in the
fragment, and a rental's terms (or, included with a ticket, until when), in the
buyer's language."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from sqlmodel import select

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.notifications.mail import mail_locale, sender_from_settings
from streamsvc.orders.buying import lock_order
from streamsvc.recordings.access import AccessStatus, RecordingAccess
from streamsvc.recordings.models import Recording
from streamsvc.venues.models import Venue
from streamsvc.web.documents import render_document


def watch_link(settings: Settings, access_id: str, code: str) -> str:
    """The watch page of an access; the code rides in the fragment, which no browser
    sends to a server (PAGES.md: secrets never travel in a path or a query)."""
    base = settings.public_url.rstrip("/")
    return f"{base}/watch/recordings/{quote(access_id, safe='')}#code={quote(code, safe='')}"


def render_access_mail(
    *, to: str, locale: str, access: RecordingAccess, title: str, venue: Venue, link: str,
    order_id: str, sender: str, now: datetime, event_title: str | None = None,
) -> EmailMessage:  # fmt: skip
    """`event_title`: the event whose ticket includes the access (kind `included`)."""
    language = mail_locale(locale)
    context = {
        "title": title.replace("\n", " "), "venue": venue.name.replace("\n", " "),
        "kind": access.kind.value, "link": link, "order_id": order_id,
        "start_by": access.start_by, "watch_hours": access.watch_hours,
        "start_within_days": _days(access), "timezone": venue.timezone,
        "event": (event_title or "").replace("\n", " "), "ends_at": access.ends_at,
    }  # fmt: skip
    message = EmailMessage()
    message["Subject"] = render_document("recording_mail_subject.txt", language, context).strip()
    message["From"] = sender
    message["To"] = to.strip()
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = make_msgid(
        "recording", domain=sender.rpartition("@")[2].strip(">") or None
    )
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = language
    message.set_content(render_document("recording_mail.txt", language, context),
                        cte="quoted-printable")  # fmt: skip
    return message


def _days(access: RecordingAccess) -> int | None:
    """A rental's days to start, as bought: from its issue to its deadline."""
    if access.start_by is None:
        return None
    return (access.start_by - access.created_at).days


def mail_access(database: Database, settings: Settings, order_id: str, now: datetime) -> bool:
    """Mail a recording order's access to its buyer once; False when there is nothing to
    send (not issued, no longer valid, mailed before).

    The order's row stays locked from the check to the mark (its `tickets_mailed_at`),
    across the send, as for ticket mails (orders/fulfilment.py): a second attempt waits,
    then finds it mailed."""
    with database.unit_of_work() as uow:
        session = uow.session
        order = lock_order(session, order_id)
        if order is None or order.recording_id is None or order.tickets_mailed_at is not None:
            return False
        access = session.exec(
            select(RecordingAccess).where(RecordingAccess.order_id == order.id)
        ).first()
        if access is None or access.status is not AccessStatus.valid:
            return False
        recording = session.get(Recording, access.recording_id)
        venue = session.get(Venue, access.venue_id)
        assert recording is not None and venue is not None
        message = render_access_mail(
            to=order.email, locale=order.locale, access=access, title=recording.title,
            venue=venue, link=watch_link(settings, access.id, access.code), order_id=order.id,
            sender=settings.mail_from, now=now,
        )  # fmt: skip
        # A failed send raises: the lock is released by the rollback, nothing marked.
        sender_from_settings(settings).send(message)
        order.tickets_mailed_at = now
        session.add(order)
    return True
