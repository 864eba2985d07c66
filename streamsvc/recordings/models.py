"""Recordings of a venue, their performers, offers, rights holders and split rules.

Media layout. The origin (or CDN) serves a recording's media under exactly

    {playback}/vod/{recording id}/{quality}/{file}    e.g. /vod/rec_…/hd/seg_00042.ts
    {playback}/vod/{recording id}/{playlist}          a master playlist (.m3u8, .mpd)

where `playback` is the origin's base URL set on the recording and a quality is `sd`,
`hd` or `uhd`, as for events (viewing/access.py): the recording's `quality` is the
best one its renditions exist in, and every lower one exists too. The path prefix is
always `vod`, so a recording's media can never be taken for a live event's.

Offers are rows that are never changed, only retired (`retired_at`) and replaced, so
that what is sold later can refer to the offer it was sold under. Split rules are
versioned as events' are (catalog/split_rules.py): every change adds a version.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from streamsvc.kit.columns import enum_string, jsonb, timestamp

MEDIA_PREFIX = "vod"


class RecordingStatus(StrEnum):
    draft = "draft"  # being set up, not public
    published = "published"  # in the archive, offered
    withdrawn = "withdrawn"  # out of the archive, no new sales


class OfferKind(StrEnum):
    rental = "rental"  # a window of watch_hours, to start within start_within_days
    purchase = "purchase"  # watch for as long as the archive exists
    free = "free"  # no payment


class PartyType(StrEnum):
    venue = "venue"
    performer = "performer"
    rights_holder = "rights_holder"


class Recording(SQLModel, table=True):
    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'withdrawn')", name="recording_status"),
        CheckConstraint("kind IN ('video', 'audio')", name="recording_kind"),
        CheckConstraint("duration_seconds > 0", name="recording_duration_positive"),
    )

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=10_000)
    recorded_on: date
    duration_seconds: int
    kind: str = Field(max_length=8)  # video | audio
    # The event it was recorded at, if it was one of this venue's; None: another occasion.
    source_event_id: str | None = Field(
        default=None, foreign_key="events.id", max_length=32, nullable=True
    )
    currency: str = Field(max_length=3)
    playback: str | None = Field(default=None, max_length=2000)  # the origin's base URL
    quality: str = Field(max_length=8)  # sd | hd | uhd: the best rendition it exists in
    licence: str = Field(max_length=32)  # a code of licences.py
    copyright_holder: str = Field(max_length=200)
    credit_line: str = Field(max_length=500)
    # When withdrawn: True, what was bought keeps playing; False, it stops too.
    access_continues_after_withdrawal: bool = True
    status: RecordingStatus = enum_string(RecordingStatus, 16, index=True)
    # When it first went into the archive (its place there; publishing again keeps it).
    published_at: datetime | None = timestamp(nullable=True)
    withdrawn_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class RecordingPerformer(SQLModel, table=True):
    __tablename__ = "recording_performers"

    recording_id: str = Field(foreign_key="recordings.id", primary_key=True, max_length=32)
    performer_id: str = Field(foreign_key="performers.id", primary_key=True, max_length=32)
    position: int


class RecordingOffer(SQLModel, table=True):
    """One offer of a recording. Never changed: a new price retires it for a new row."""

    __tablename__ = "recording_offers"
    __table_args__ = (
        CheckConstraint("kind IN ('rental', 'purchase', 'free')", name="recording_offer_kind"),
        # Free is free; a rental and a purchase cost something and a rental has its terms.
        CheckConstraint(
            "(kind = 'free' AND price_amount = 0) OR (kind <> 'free' AND price_amount > 0)",
            name="recording_offer_price",
        ),
        CheckConstraint(
            "(kind = 'rental' AND start_within_days IS NOT NULL AND watch_hours IS NOT NULL)"
            " OR (kind <> 'rental' AND start_within_days IS NULL AND watch_hours IS NULL)",
            name="recording_offer_rental_terms",
        ),
        # At most one offer of each kind is on offer at a time.
        Index(
            "recording_offer_one_active",
            "recording_id",
            "kind",
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    recording_id: str = Field(foreign_key="recordings.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    kind: OfferKind = enum_string(OfferKind, 16)
    price_amount: int  # VAT included, minor units of currency; 0 for free
    currency: str = Field(max_length=3)
    vat_rate_bps: int
    start_within_days: int | None = None  # rental: days from buying to start watching
    watch_hours: int | None = None  # rental: hours it plays once started
    created_at: datetime = timestamp()
    retired_at: datetime | None = timestamp(nullable=True)


class RightsHolder(SQLModel, table=True):
    """Someone other than the venue and its performers who shares a recording's
    revenue: an estate, a label, a composer's publisher."""

    __tablename__ = "rights_holders"

    id: str = Field(primary_key=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", index=True, max_length=32)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)  # where statements and payout questions go
    payout_reference: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp()


class RecordingSplitRule(SQLModel, table=True):
    """One version of a recording's split rule. Versions are never changed, only added."""

    __tablename__ = "recording_split_rules"
    __table_args__ = (
        UniqueConstraint("recording_id", "version", name="recording_split_rule_version"),
    )

    id: str = Field(primary_key=True, max_length=32)
    recording_id: str = Field(foreign_key="recordings.id", index=True, max_length=32)
    venue_id: str = Field(foreign_key="venues.id", max_length=32)
    version: int
    platform_fee_bps: int
    costs: list[dict[str, Any]] = jsonb()  # [{label, amount, currency}], recouped in order
    shares: list[dict[str, Any]] = jsonb()  # [{party: {type, id}, bps}], summing to 10000
    created_at: datetime = timestamp()
