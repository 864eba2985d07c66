"""A recording's offers: a rental, a purchase, or free.

`set_offers` takes the whole set at once. An offer whose terms stay the same keeps its
row (and id); a changed one is retired and replaced, so that a sale can always name
the exact terms it was sold under. Any licence may be sold or given away: the licence
says what the public may do with the work, the offer sells access to this venue's
recording of it (a venue may sell its own recording of a CC0 work). What is refused:
a price a card payment cannot carry (payments/minimums.py), a free recording that is
also sold, and a published recording left with nothing on offer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.payments.minimums import charge_minimum
from streamsvc.recordings.models import OfferKind, Recording, RecordingOffer, RecordingStatus
from streamsvc.recordings.schemas import OfferPublic, OffersWrite
from streamsvc.venues.tenancy import owned

# The order offers are shown in: the cheapest way in first.
_ORDER = {OfferKind.free: 0, OfferKind.rental: 1, OfferKind.purchase: 2}
Terms = tuple[int, int, int | None, int | None]  # price, VAT rate, start within, watch hours


def active_offers(
    session: Session, recording_ids: Iterable[str]
) -> dict[str, list[RecordingOffer]]:
    """Each recording's offers now on offer, free, rental, purchase; one query."""
    found: dict[str, list[RecordingOffer]] = {}
    rows = session.exec(
        select(RecordingOffer).where(
            col(RecordingOffer.recording_id).in_(list(recording_ids)),
            col(RecordingOffer.retired_at).is_(None),
        )
    )
    for offer in sorted(rows, key=lambda o: (o.recording_id, _ORDER[o.kind])):
        found.setdefault(offer.recording_id, []).append(offer)
    return found


def list_offers(session: Session, venue_id: str, recording_id: str) -> list[RecordingOffer]:
    recording = owned(session, Recording, recording_id, venue_id)
    return active_offers(session, [recording.id]).get(recording.id, [])


def _wanted(data: OffersWrite) -> dict[OfferKind, Terms]:
    wanted: dict[OfferKind, Terms] = {}
    if data.rental is not None:
        rental = data.rental
        wanted[OfferKind.rental] = (
            rental.price_amount,
            rental.vat_rate_bps,
            rental.start_within_days,
            rental.watch_hours,
        )
    if data.purchase is not None:
        wanted[OfferKind.purchase] = (
            data.purchase.price_amount,
            data.purchase.vat_rate_bps,
            None,
            None,
        )
    if data.free:
        wanted[OfferKind.free] = (0, 0, None, None)
    return wanted


def _problems(recording: Recording, wanted: dict[OfferKind, Terms]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if OfferKind.free in wanted and len(wanted) > 1:
        problems["free"] = "a free recording is not also sold: remove the rental and purchase"
    minimum = charge_minimum(recording.currency)
    for kind in (OfferKind.rental, OfferKind.purchase):
        if kind in wanted and wanted[kind][0] < minimum:
            problems[f"{kind.value}.price_amount"] = (
                f"at least {minimum} (the smallest card payment in {recording.currency})"
            )
    if not wanted and recording.status is RecordingStatus.published:
        problems["offers"] = "a published recording needs an offer: withdraw it instead"
    return problems


def set_offers(
    session: Session, venue_id: str, recording_id: str, data: OffersWrite, now: datetime
) -> list[RecordingOffer]:
    # The recording's row lock serialises changes, so two never both add a rental.
    recording = owned(session, Recording, recording_id, venue_id, lock=True)
    wanted = _wanted(data)
    problems = _problems(recording, wanted)
    if problems:
        if set(problems) == {"offers"}:
            raise Conflict(
                "A published recording needs an offer.",
                code="recording_needs_offer",
                fields=problems,
            )
        raise ValidationFailed("The offers are not valid.", fields=problems)
    current = {
        offer.kind: offer for offer in active_offers(session, [recording.id]).get(recording.id, [])
    }
    changed: dict[str, object] = {}
    for kind, offer in current.items():
        if wanted.get(kind) != _terms(offer):
            offer.retired_at = now
            session.add(offer)
            changed[kind.value] = audit.change(
                _terms(offer)[0], wanted[kind][0] if kind in wanted else None
            )
    session.flush()  # retired before their successors, for the one-active index
    for kind, (price, vat, days, hours) in wanted.items():
        if kind in current and _terms(current[kind]) == wanted[kind]:
            continue
        session.add(
            RecordingOffer(
                id=new_id("rof"),
                recording_id=recording.id,
                venue_id=venue_id,
                kind=kind,
                price_amount=price,
                currency=recording.currency,
                vat_rate_bps=vat,
                start_within_days=days,
                watch_hours=hours,
                created_at=now,
            )
        )
        changed.setdefault(kind.value, audit.change(None, price))
    session.flush()
    if changed:
        recording.updated_at = now
        session.add(recording)
        audit.record(
            session,
            venue_id=venue_id,
            action="recording.offers_changed",
            object_type="recording",
            object_id=recording.id,
            changes={"price_amount": changed, "currency": recording.currency},
        )
    return active_offers(session, [recording.id]).get(recording.id, [])


def _terms(offer: RecordingOffer) -> Terms:
    return (offer.price_amount, offer.vat_rate_bps, offer.start_within_days, offer.watch_hours)


def public(offer: RecordingOffer) -> OfferPublic:
    return OfferPublic(
        id=offer.id,
        kind=offer.kind.value,
        price_amount=offer.price_amount,
        currency=offer.currency,
        vat_rate_bps=offer.vat_rate_bps,
        start_within_days=offer.start_within_days,
        watch_hours=offer.watch_hours,
        created_at=offer.created_at,
    )
