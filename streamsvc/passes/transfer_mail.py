"""The mails of a pass's transfer (passes/transfer.py), each sent once by a worker:
the pass to its new holder (the pass mail, its link carrying the new code in the
fragment) and a notice to the previous holder, whose address is then forgotten.

As for the pass mail (mail.py), the transfer's row stays locked from the check to
the mark, across the send: a second attempt waits, then finds it sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import func
from sqlmodel import Session, select

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.notifications.mail import mail_locale, sender_from_settings
from streamsvc.orders.models import Order
from streamsvc.passes import codes
from streamsvc.passes.mail import HOLDING, render_pass_mail
from streamsvc.passes.models import PassHolding, PassProduct, PassTransfer
from streamsvc.venues.models import Venue
from streamsvc.web.documents import render_document


def _locked(session: Session, transfer_id: str) -> PassTransfer | None:
    return session.exec(
        select(PassTransfer).where(PassTransfer.id == transfer_id).with_for_update()
    ).first()


def _pass_of(session: Session, holding_id: str) -> tuple[PassHolding, Order, str, str]:
    """The holding, its order, the pass's name and the venue's."""
    holding = session.get(PassHolding, holding_id)
    assert holding is not None
    order = session.get(Order, holding.order_id)
    product = session.get(PassProduct, holding.pass_id)
    venue = session.get(Venue, holding.venue_id)
    assert order is not None and product is not None and venue is not None
    return holding, order, product.name, venue.name


def mail_transferred_pass(
    database: Database, settings: Settings, transfer_id: str, now: datetime
) -> bool:
    """Mail the new holder the pass; False when there is nothing to send (sent before,
    transferred again since: the later transfer's mail carries the code, or no longer
    in force)."""
    with database.unit_of_work() as uow:
        session = uow.session
        transfer = _locked(session, transfer_id)
        if transfer is None or transfer.pass_mailed_at is not None:
            return False
        latest = session.exec(
            select(func.max(PassTransfer.sequence)).where(
                PassTransfer.holding_id == transfer.holding_id
            )
        ).one()
        if latest != transfer.sequence:
            return False
        holding, order, name, venue = _pass_of(session, transfer.holding_id)
        if order.status not in HOLDING:
            return False
        code = codes.recover_code(settings, holding.id, holding.code_hash,
                                  generation=transfer.sequence)  # fmt: skip
        if code is None:
            return False  # derived under a key no longer kept: nothing we can link
        message = render_pass_mail(
            to=holding.email, locale=transfer.new_locale, name=name, venue=venue,
            link=codes.pass_page_link(settings, holding.id, code), order_id=order.id,
            sender=settings.mail_from, now=now, transferred=True,
        )  # fmt: skip
        sender_from_settings(settings).send(message)
        transfer.pass_mailed_at = now
        session.add(transfer)
    return True


def render_transfer_notice(
    *, to: str, locale: str, name: str, venue: str, order_id: str, sender: str, now: datetime
) -> EmailMessage:
    language = mail_locale(locale)
    context = {"name": name.replace("\n", " "), "venue": venue.replace("\n", " "),
               "order_id": order_id}  # fmt: skip
    message = EmailMessage()
    subject = render_document("pass_transfer_notice_subject.txt", language, context)
    message["Subject"] = subject.strip()
    message["From"] = sender
    message["To"] = to.strip()
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = make_msgid("pass", domain=sender.rpartition("@")[2].strip(">") or None)
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = language
    message.set_content(render_document("pass_transfer_notice.txt", language, context),
                        cte="quoted-printable")  # fmt: skip
    return message


def mail_transfer_notice(
    database: Database, settings: Settings, transfer_id: str, now: datetime
) -> bool:
    """Tell the previous holder their pass was transferred, then forget their address;
    False when there is nothing to send (sent before, or the address was erased)."""
    with database.unit_of_work() as uow:
        session = uow.session
        transfer = _locked(session, transfer_id)
        if transfer is None or transfer.notice_mailed_at is not None:
            return False
        if transfer.previous_email is None:
            return False
        _, order, name, venue = _pass_of(session, transfer.holding_id)
        message = render_transfer_notice(
            to=transfer.previous_email, locale=transfer.previous_locale, name=name,
            venue=venue, order_id=order.id, sender=settings.mail_from, now=now,
        )  # fmt: skip
        sender_from_settings(settings).send(message)
        transfer.notice_mailed_at, transfer.previous_email = now, None
        session.add(transfer)
    return True


def give_up_notice(database: Database, transfer_id: str) -> None:
    """The notice cannot be delivered: forget the address all the same."""
    with database.unit_of_work() as uow:
        transfer = _locked(uow.session, transfer_id)
        if transfer is not None and transfer.previous_email is not None:
            transfer.previous_email = None
            uow.session.add(transfer)
