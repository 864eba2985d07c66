"""The public shape of the catalogue: what a buyer or a listings platform may see."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from streamsvc.catalog.schemas import AttendanceMode, EventStatusName, PayWhatYouWantPublic


class VenueListing(BaseModel):
    id: str
    name: str
    slug: str
    country: str


class PerformerListing(BaseModel):
    id: str
    name: str


class AccessListing(BaseModel):
    quality: str
    extras: list[str]
    in_venue: bool
    rewatch_hours: int
    max_devices: int


class TierListing(BaseModel):
    id: str
    name: str
    price_amount: int
    currency: str
    pay_what_you_want: PayWhatYouWantPublic | None
    capacity: int | None
    available: int | None  # None: unlimited
    sold_out: bool
    on_sale_now: bool  # inside its sales window and the event is on sale or live
    sales_start: datetime | None
    sales_end: datetime | None
    access: AccessListing


class EventListing(BaseModel):
    id: str
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    attendance_mode: AttendanceMode
    currency: str
    doors_open_minutes: int
    replay_hours: int
    allowed_countries: list[str]
    status: EventStatusName
    url: str
    venue: VenueListing
    performers: list[PerformerListing]
    tiers: list[TierListing]
