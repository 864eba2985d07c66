"""The public archive: published recordings of venues that are not suspended, newest
first (by when they first went into the archive), narrowed by venue and licence.

Nothing of a draft or a withdrawn recording is public, nor anything of a venue's own
(e-mail addresses, the origin URL, the split rule).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from streamsvc.catalog.models import Performer
from streamsvc.errors import NotFound
from streamsvc.kit.pagination import decode_cursor, encode_cursor
from streamsvc.recordings import offers
from streamsvc.recordings.models import Recording, RecordingStatus
from streamsvc.recordings.schemas import ArchiveQuery, PerformerRef, RecordingListing, VenueRef
from streamsvc.recordings.service import licence_public, performer_ids_of
from streamsvc.venues.models import Venue


def _published(venue_id: str | None = None, licence: str | None = None) -> Any:
    query = (
        select(Recording)
        .join(Venue, col(Venue.id) == col(Recording.venue_id))
        .where(Recording.status == RecordingStatus.published, col(Venue.suspended_at).is_(None))
    )
    if venue_id is not None:
        query = query.where(Recording.venue_id == venue_id)
    if licence is not None:
        query = query.where(Recording.licence == licence)
    return query


def list_published(
    session: Session, page: ArchiveQuery, base_url: str
) -> tuple[list[RecordingListing], str | None]:
    """One page, newest first, and the cursor of the next (keyset: published_at, id)."""
    query = _published(page.venue_id, page.licence)
    when, ident = col(Recording.published_at), col(Recording.id)
    if page.cursor:
        after, after_id = decode_cursor(page.cursor)
        query = query.where((when < after) | ((when == after) & (ident < after_id)))
    rows = list(session.exec(query.order_by(when.desc(), ident.desc()).limit(page.limit + 1)))
    cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last = rows[-1]
        assert last.published_at is not None
        cursor = encode_cursor(last.published_at, last.id)
    return listings(session, rows, base_url), cursor


def get_published(session: Session, recording_id: str, base_url: str) -> RecordingListing:
    recording = session.exec(_published().where(Recording.id == recording_id)).first()
    if recording is None:
        raise NotFound("No such recording.")
    return listings(session, [recording], base_url)[0]


def archive_venues(session: Session) -> list[tuple[str, str]]:
    """(id, name) of the venues with a published recording, by name: the page's filter."""
    rows = session.exec(
        select(Venue.id, Venue.name)
        .join(Recording, col(Recording.venue_id) == col(Venue.id))
        .where(Recording.status == RecordingStatus.published, col(Venue.suspended_at).is_(None))
        .distinct()
        .order_by(col(Venue.name), col(Venue.id))
    )
    return [(venue_id, name) for venue_id, name in rows]


def recording_url(base_url: str, recording_id: str) -> str:
    return f"{base_url}/recordings/{recording_id}"


def listings(session: Session, rows: list[Recording], base_url: str) -> list[RecordingListing]:
    """Public views of these recordings, with a fixed number of queries whatever their count."""
    ids = [row.id for row in rows]
    venues = {
        v.id: v
        for v in session.exec(
            select(Venue).where(col(Venue.id).in_({row.venue_id for row in rows}))
        )
    }
    performer_ids = performer_ids_of(session, ids)
    wanted = {pid for found in performer_ids.values() for pid in found}
    names = {
        p.id: p.name for p in session.exec(select(Performer).where(col(Performer.id).in_(wanted)))
    }
    offered = offers.active_offers(session, ids)
    found = []
    for row in rows:
        assert row.published_at is not None, "only published recordings are listed"
        venue = venues[row.venue_id]
        found.append(
            RecordingListing(
                id=row.id,
                url=recording_url(base_url, row.id),
                venue=VenueRef(id=venue.id, name=venue.name),
                title=row.title,
                description=row.description,
                recorded_on=row.recorded_on,
                duration_seconds=row.duration_seconds,
                kind=row.kind,
                licence=licence_public(row.licence),
                copyright_holder=row.copyright_holder,
                credit_line=row.credit_line,
                performers=[
                    PerformerRef(id=pid, name=names[pid])
                    for pid in performer_ids.get(row.id, [])
                    if pid in names
                ],
                offers=[offers.public(offer) for offer in offered.get(row.id, [])],
                published_at=row.published_at,
                updated_at=row.updated_at,
            )
        )
    return found
