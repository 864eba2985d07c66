"""The mail that hands a paid pass to its holder: the pass page's link, code in the fragment."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlmodel import select

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.notifications.mail import sender_from_settings
from streamsvc.orders.models import Order
from streamsvc.passes import codes
from streamsvc.passes.models import PassHolding, PassProduct
from streamsvc.venues.models import Venue
from streamsvc.web.documents import render_document

HOLDING = ("paid", "partially_refunded")  # the order statuses of a pass in force


def render_pass_mail(
    *, to: str, locale: str, name: str, venue: str, link: str, order_id: str, sender: str,
    now: datetime, transferred: bool = False,
) -> EmailMessage:  # fmt: skip
    """`transferred`: to a new holder the pass was handed to (passes/transfer_mail.py)."""
    language = locale if locale in ("nl", "en", "fr") else "en"
    context = {"name": name.replace("\n", " "), "venue": venue.replace("\n", " "),
               "link": link, "order_id": order_id, "transferred": transferred}  # fmt: skip
    message = EmailMessage()
    message["Subject"] = render_document("pass_mail_subject.txt", language, context).strip()
    message["From"] = sender
    message["To"] = to.strip()
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = make_msgid("pass", domain=sender.rpartition("@")[2].strip(">") or None)
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = language
    message.set_content(render_document("pass_mail.txt", language, context),
                        cte="quoted-printable")  # fmt: skip
    return message


def mail_pass(database: Database, settings: Settings, order_id: str, now: datetime) -> bool:
    """Mail a paid pass's link to its holder once; False when there is nothing to send.

    The holding's row stays locked from the check to the mark, across the send, as for
    ticket mails (orders/fulfilment.py): a second attempt waits, then finds it mailed."""
    with database.unit_of_work() as uow:
        session = uow.session
        holding = session.exec(
            select(PassHolding).where(PassHolding.order_id == order_id).with_for_update()
        ).first()
        order = session.get(Order, order_id)
        if holding is None or order is None or holding.mailed_at is not None:
            return False
        if order.status not in HOLDING:
            return False
        product = session.get(PassProduct, holding.pass_id)
        venue = session.get(Venue, holding.venue_id)
        assert product is not None and venue is not None
        code = codes.recover_code(settings, holding.id, holding.code_hash)
        if code is None:
            return False  # derived under a key no longer kept: nothing we can link
        message = render_pass_mail(
            to=holding.email, locale=order.locale, name=product.name, venue=venue.name,
            link=codes.pass_page_link(settings, holding.id, code), order_id=order.id,
            sender=settings.mail_from, now=now,
        )  # fmt: skip
        sender_from_settings(settings).send(message)
        holding.mailed_at = now
        session.add(holding)
    return True
