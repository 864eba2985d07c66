"""Recordings: create, change, publish and withdraw; what publishing requires.

A recording is `draft` until an admin publishes it: then it is in the archive and its
offers are on offer. Withdrawing takes it out of the archive and stops new sales;
whether what was bought keeps playing is the recording's
`access_continues_after_withdrawal`. A withdrawn recording may be published again
(rights renegotiated); it keeps the place in the archive it first had.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from streamsvc import audit
from streamsvc.catalog.models import Event, Performer
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.kit.pagination import Page, paginate
from streamsvc.recordings.licences import licence
from streamsvc.recordings.models import (
    MEDIA_PREFIX,
    OfferKind,
    Recording,
    RecordingOffer,
    RecordingPerformer,
    RecordingSplitRule,
    RecordingStatus,
)
from streamsvc.recordings.schemas import (
    LicencePublic,
    RecordingCreate,
    RecordingListQuery,
    RecordingPublic,
    RecordingUpdate,
)
from streamsvc.venues.models import Venue
from streamsvc.venues.tenancy import owned

_REQUIRED = {
    "title",
    "recorded_on",
    "duration_seconds",
    "kind",
    "quality",
    "licence",
    "copyright_holder",
    "credit_line",
    "access_continues_after_withdrawal",
}
_RIGHTS = ("licence", "copyright_holder", "credit_line")


def create_recording(
    session: Session, venue_id: str, data: RecordingCreate, now: datetime
) -> Recording:
    venue = session.get(Venue, venue_id)
    assert venue is not None, "staff callers always belong to a venue"
    recording = Recording(
        id=new_id("rec"),
        venue_id=venue_id,
        title=data.title,
        description=data.description or "",
        recorded_on=data.recorded_on,
        duration_seconds=data.duration_seconds,
        kind=data.kind,
        source_event_id=_source_event(session, venue_id, data.source_event_id),
        currency=data.currency or venue.currency,
        playback=_origin_base(data.playback),
        quality=data.quality,
        licence=data.licence,
        copyright_holder=data.copyright_holder,
        credit_line=data.credit_line,
        access_continues_after_withdrawal=data.access_continues_after_withdrawal,
        status=RecordingStatus.draft,
        created_at=now,
        updated_at=now,
    )
    session.add(recording)
    session.flush()
    _set_performers(session, recording, data.performer_ids or [])
    return recording


def update_recording(
    session: Session, venue_id: str, recording_id: str, data: RecordingUpdate, now: datetime
) -> Recording:
    recording = owned(session, Recording, recording_id, venue_id, lock=True)
    changes = data.model_dump(exclude_unset=True, exclude={"performer_ids"})
    before = {name: getattr(recording, name) for name in _RIGHTS}
    for name, given in changes.items():
        if given is None and name in _REQUIRED:
            raise ValidationFailed("This field cannot be cleared.", fields={name: "cannot be null"})
        value: object = given
        if name == "playback":
            value = _origin_base(data.playback)
        elif name == "source_event_id":
            value = _source_event(session, venue_id, data.source_event_id)
        elif name == "description":
            value = given or ""
        setattr(recording, name, value)
    if recording.status is RecordingStatus.published and recording.playback is None:
        raise Conflict(
            "A published recording needs its origin URL.",
            code="recording_incomplete",
            fields={"playback": "a published recording needs it"},
        )
    if data.performer_ids is not None:
        _set_performers(session, recording, data.performer_ids)
    recording.updated_at = now
    session.add(recording)
    rights = {
        name: audit.change(before[name], getattr(recording, name))
        for name in _RIGHTS
        if getattr(recording, name) != before[name]
    }
    if rights:
        # Who may do what with a recording, and who is credited: worth knowing who changed it.
        audit.record(
            session,
            venue_id=venue_id,
            action="recording.rights_changed",
            object_type="recording",
            object_id=recording.id,
            changes=rights,
        )
    return recording


def _origin_base(url: object) -> str | None:
    """The origin's base URL, without a trailing slash; the path /vod/… is ours to add."""
    if url is None:
        return None
    text = str(url)
    parts = urlsplit(text)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationFailed(
            "The origin URL is a base URL only.",
            fields={"playback": "no query, fragment or credentials"},
        )
    return text.rstrip("/")


def _source_event(session: Session, venue_id: str, event_id: str | None) -> str | None:
    if event_id is None:
        return None
    event = session.get(Event, event_id)
    if event is None or event.venue_id != venue_id:
        raise ValidationFailed("No such event.", fields={"source_event_id": "no such event"})
    return event.id


def _set_performers(session: Session, recording: Recording, performer_ids: list[str]) -> None:
    if len(set(performer_ids)) != len(performer_ids):
        raise ValidationFailed(
            "A performer is listed twice.", fields={"performer_ids": "duplicates"}
        )
    known = set(
        session.exec(
            select(Performer.id).where(
                col(Performer.id).in_(performer_ids), Performer.venue_id == recording.venue_id
            )
        )
    )
    unknown = {
        f"performer_ids[{i}]": "no such performer"
        for i, pid in enumerate(performer_ids)
        if pid not in known
    }
    if unknown:
        raise ValidationFailed("Unknown performers.", fields=unknown)
    links = select(RecordingPerformer).where(RecordingPerformer.recording_id == recording.id)
    for link in session.exec(links):
        session.delete(link)
    session.flush()
    for position, performer_id in enumerate(performer_ids):
        session.add(
            RecordingPerformer(
                recording_id=recording.id, performer_id=performer_id, position=position
            )
        )
    session.flush()


def performer_ids_of(session: Session, recording_ids: Iterable[str]) -> dict[str, list[str]]:
    """Each recording's performer ids in billing order, in one query."""
    found: dict[str, list[str]] = {}
    links = session.exec(
        select(RecordingPerformer)
        .where(col(RecordingPerformer.recording_id).in_(list(recording_ids)))
        .order_by(col(RecordingPerformer.recording_id), col(RecordingPerformer.position))
    )
    for link in links:
        found.setdefault(link.recording_id, []).append(link.performer_id)
    return found


def get_recording(session: Session, venue_id: str, recording_id: str) -> Recording:
    return owned(session, Recording, recording_id, venue_id)


def list_recordings(
    session: Session, venue_id: str, query: RecordingListQuery
) -> Page[RecordingPublic]:
    found = select(Recording).where(Recording.venue_id == venue_id)
    if query.status is not None:
        found = found.where(Recording.status == RecordingStatus(query.status))
    rows, cursor = paginate(session, found, col(Recording.created_at), col(Recording.id), query)
    performers = performer_ids_of(session, [row.id for row in rows])
    return Page[RecordingPublic](
        data=[public(row, performers.get(row.id, [])) for row in rows], next_cursor=cursor
    )


def licence_public(code: str) -> LicencePublic:
    found = licence(code)
    return LicencePublic(code=found.code, short=found.short, name=found.name, url=found.url)


def media_path(recording_id: str) -> str:
    """Where the origin serves the recording's media (models.py): /vod/{id}/."""
    return f"/{MEDIA_PREFIX}/{recording_id}/"


def public(recording: Recording, performer_ids: list[str]) -> RecordingPublic:
    return RecordingPublic(
        id=recording.id,
        venue_id=recording.venue_id,
        title=recording.title,
        description=recording.description,
        recorded_on=recording.recorded_on,
        duration_seconds=recording.duration_seconds,
        kind=recording.kind,
        source_event_id=recording.source_event_id,
        currency=recording.currency,
        playback=recording.playback,
        media_path=media_path(recording.id),
        quality=recording.quality,
        licence=licence_public(recording.licence),
        copyright_holder=recording.copyright_holder,
        credit_line=recording.credit_line,
        access_continues_after_withdrawal=recording.access_continues_after_withdrawal,
        performer_ids=performer_ids,
        status=recording.status.value,
        published_at=recording.published_at,
        withdrawn_at=recording.withdrawn_at,
        created_at=recording.created_at,
        updated_at=recording.updated_at,
    )


# --- publishing -------------------------------------------------------------------------


def completeness_problems(session: Session, recording: Recording) -> dict[str, str]:
    """What is missing before the recording may be published, by field."""
    problems: dict[str, str] = {}
    if recording.playback is None:
        problems["playback"] = "set the origin URL of the media"
    kinds = set(
        session.exec(
            select(RecordingOffer.kind).where(
                RecordingOffer.recording_id == recording.id,
                col(RecordingOffer.retired_at).is_(None),
            )
        )
    )
    if not kinds:
        problems["offers"] = "offer the recording: a rental, a purchase, or free"
    paid = kinds & {OfferKind.rental, OfferKind.purchase}
    if (
        paid
        and not session.exec(
            select(RecordingSplitRule.id).where(RecordingSplitRule.recording_id == recording.id)
        ).first()
    ):
        problems["split_rule"] = "a recording that is sold needs a split rule"
    return problems


def publish(session: Session, venue_id: str, recording_id: str, now: datetime) -> Recording:
    recording = owned(session, Recording, recording_id, venue_id, lock=True)
    if recording.status is RecordingStatus.published:
        raise Conflict(
            "The recording is already published.",
            code="recording_published",
            details={"current_status": recording.status.value},
        )
    problems = completeness_problems(session, recording)
    if problems:
        raise ValidationFailed("The recording is not complete.", fields=problems)
    before = recording.status.value
    recording.status = RecordingStatus.published
    # The archive's order is the first publication: publishing again does not jump ahead.
    recording.published_at = recording.published_at or now
    recording.withdrawn_at = None
    recording.updated_at = now
    session.add(recording)
    audit.record(
        session,
        venue_id=venue_id,
        action="recording.published",
        object_type="recording",
        object_id=recording.id,
        changes={"status": audit.change(before, recording.status.value)},
    )
    return recording


def withdraw(session: Session, venue_id: str, recording_id: str, now: datetime) -> Recording:
    recording = owned(session, Recording, recording_id, venue_id, lock=True)
    if recording.status is not RecordingStatus.published:
        raise Conflict(
            "Only a published recording can be withdrawn.",
            code="recording_not_published",
            details={"current_status": recording.status.value},
        )
    recording.status = RecordingStatus.withdrawn
    recording.withdrawn_at = now
    recording.updated_at = now
    session.add(recording)
    audit.record(
        session,
        venue_id=venue_id,
        action="recording.withdrawn",
        object_type="recording",
        object_id=recording.id,
        changes={
            "status": audit.change("published", "withdrawn"),
            "access_continues": recording.access_continues_after_withdrawal,
        },
    )
    return recording
