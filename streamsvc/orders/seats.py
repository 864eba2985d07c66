"""Seat tickets (of an `in_venue` tier) carry a QR code of their code, for the door.

The code is the ticket's secret: the QR code is drawn on the server (segno) into the
buyer's own order page, never fetched from a URL that would carry it.
"""

from __future__ import annotations

import io
from collections.abc import Collection

import segno
from sqlmodel import Session, col, select

from streamsvc.catalog.models import Tier
from streamsvc.orders.models import Ticket


def seat_ticket_ids(session: Session, ticket_ids: Collection[str]) -> set[str]:
    """Which of these tickets are seats in the hall."""
    query = (
        select(Ticket.id)
        .join(Tier, col(Tier.id) == col(Ticket.tier_id))
        .where(col(Ticket.id).in_(sorted(ticket_ids)), col(Tier.in_venue).is_(True))
    )
    return set(session.exec(query).all())


def qr_svg(code: str, title: str) -> str:
    """The code as an inline SVG QR code (no XML declaration, for inclusion in a page)."""
    buffer = io.BytesIO()
    segno.make(code, error="m").save(
        buffer, kind="svg", scale=5, border=4, xmldecl=False, svgns=True, title=title,
        svgclass="qr-code", lineclass=None,
    )  # fmt: skip
    return buffer.getvalue().decode()


def qr_png(code: str) -> bytes:
    """The same QR code as `qr_svg`, as a PNG for the ticket mail (mail clients show no
    inline SVG), at the same scale and quiet zone."""
    buffer = io.BytesIO()
    segno.make(code, error="m").save(buffer, kind="png", scale=5, border=4)
    return buffer.getvalue()
