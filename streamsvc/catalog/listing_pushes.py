"""What the sector's listings (UiTdatabank) last received of each event.

One row per event that was ever offered: the id UiTdatabank answered (so a change is
an update of that event, never a second one), the state of the last push, and a
digest of the body it received (an unchanged event is not sent again). Written by
listings/uitdatabank/push.py; read here for the console's event page, which the
catalog renders (the catalog may not import the listings, which import it).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint
from sqlmodel import Field, Session, SQLModel

from streamsvc.kit.columns import timestamp


class PushState(StrEnum):
    pending = "pending"  # asked for, not yet accepted (or retrying after a failure)
    sent = "sent"  # UiTdatabank accepted the last body or status
    failed = "failed"  # refused for good, or retried until the task gave up


class ListingPush(SQLModel, table=True):
    __tablename__ = "listing_pushes"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sent', 'failed')", name="listing_push_state"),
    )

    event_id: str = Field(primary_key=True, foreign_key="events.id", max_length=32)
    uitdatabank_id: str | None = Field(default=None, max_length=64, nullable=True)
    state: str = Field(max_length=16)
    last_error: str | None = Field(default=None, max_length=2000, nullable=True)
    attempts: int = 0  # failed attempts since the last success
    pushed_digest: str | None = Field(default=None, max_length=64, nullable=True)
    pushed_status: str | None = Field(default=None, max_length=32, nullable=True)
    pushed_at: datetime | None = timestamp(nullable=True)
    updated_at: datetime = timestamp()


def listing_of(session: Session, event_id: str) -> ListingPush | None:
    """The event's push row, if it was ever offered."""
    return session.get(ListingPush, event_id)
