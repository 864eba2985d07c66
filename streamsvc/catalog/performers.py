"""Performers of a venue."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from streamsvc.catalog.models import Performer
from streamsvc.catalog.schemas import PerformerCreate, PerformerPublic, PerformerUpdate
from streamsvc.errors import ValidationFailed
from streamsvc.kit.ids import new_id
from streamsvc.kit.pagination import Page, PageQuery, paginate
from streamsvc.venues.tenancy import owned


def create_performer(
    session: Session, venue_id: str, data: PerformerCreate, now: datetime
) -> Performer:
    performer = Performer(id=new_id("prf"), venue_id=venue_id, created_at=now, **data.model_dump())
    session.add(performer)
    session.flush()
    return performer


def update_performer(
    session: Session, venue_id: str, performer_id: str, data: PerformerUpdate
) -> Performer:
    performer = owned(session, Performer, performer_id, venue_id, lock=True)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None and name != "payout_reference":
            raise ValidationFailed("This field cannot be cleared.", fields={name: "cannot be null"})
        setattr(performer, name, value)
    session.add(performer)
    return performer


def get_performer(session: Session, venue_id: str, performer_id: str) -> Performer:
    return owned(session, Performer, performer_id, venue_id)


def list_performers(session: Session, venue_id: str, page: PageQuery) -> Page[PerformerPublic]:
    query = select(Performer).where(Performer.venue_id == venue_id)
    rows, cursor = paginate(session, query, col(Performer.created_at), col(Performer.id), page)
    return Page[PerformerPublic](data=[public(row) for row in rows], next_cursor=cursor)


def public(performer: Performer) -> PerformerPublic:
    return PerformerPublic.model_validate(performer, from_attributes=True)
