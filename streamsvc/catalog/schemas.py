"""Request and response shapes of performers, events, tiers and split rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AnyUrl,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    UrlConstraints,
)

from streamsvc.kit.money import MAX_AMOUNT, Currency
from streamsvc.kit.pagination import PageQuery
from streamsvc.kit.validation import (
    Bps,
    Country,
    Email,
    Name,
    Text,
    Timestamp,
    Timezone,
    WriteModel,
)

Amount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
OriginUrl = Annotated[AnyUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])]
Extra = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]
AttendanceMode = Literal["online", "hybrid"]
EventStatusName = Literal["draft", "on_sale", "live", "ended", "cancelled"]


# --- performers -------------------------------------------------------------------


class PerformerCreate(WriteModel):
    name: Name
    email: Email
    payout_reference: Annotated[str, StringConstraints(max_length=200)] | None = None


class PerformerUpdate(WriteModel):
    name: Name | None = None
    email: Email | None = None
    payout_reference: Annotated[str, StringConstraints(max_length=200)] | None = None


class PerformerPublic(BaseModel):
    id: str
    name: str
    email: str
    payout_reference: str | None
    created_at: datetime


# --- events -----------------------------------------------------------------------


class EventFields(WriteModel):
    """Fields an admin may set on create and change on update."""

    title: Name | None = None
    description: Text | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    timezone: Timezone | None = None
    attendance_mode: AttendanceMode | None = None
    doors_open_minutes: Annotated[StrictInt, Field(ge=0, le=24 * 60)] | None = None
    replay_hours: Annotated[StrictInt, Field(ge=0, le=24 * 365)] | None = None
    allowed_countries: Annotated[list[Country], Field(max_length=250)] | None = None
    playback: OriginUrl | None = None
    performer_ids: Annotated[list[ObjectId], Field(max_length=100)] | None = None


class EventCreate(EventFields):
    title: Name
    starts_at: Timestamp
    ends_at: Timestamp
    timezone: Timezone
    attendance_mode: AttendanceMode
    currency: Currency | None = None  # the venue's currency when omitted
    doors_open_minutes: Annotated[StrictInt, Field(ge=0, le=24 * 60)] = 30
    replay_hours: Annotated[StrictInt, Field(ge=0, le=24 * 365)] = 0


class EventUpdate(EventFields):
    status: Literal["on_sale", "live", "ended"] | None = None


class EventPublic(BaseModel):
    id: str
    venue_id: str
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
    playback: str | None
    performer_ids: list[str]
    status: EventStatusName
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EventListQuery(PageQuery):
    status: EventStatusName | None = None


# --- tiers ------------------------------------------------------------------------


class PayWhatYouWant(WriteModel):
    min_amount: Amount
    suggested_amount: Amount


class AccessProfile(WriteModel):
    quality: Literal["sd", "hd", "uhd"]
    extras: Annotated[list[Extra], Field(max_length=20)] = []
    in_venue: StrictBool = False
    rewatch_hours: Annotated[StrictInt, Field(ge=0, le=24 * 365)] = 0
    max_devices: Annotated[StrictInt, Field(ge=1, le=20)] = 1
    on_device_limit: Literal["refuse", "drop_oldest"] = "refuse"


class TierFields(WriteModel):
    name: Name | None = None
    price_amount: Amount | None = None
    pay_what_you_want: PayWhatYouWant | None = None
    capacity: Annotated[StrictInt, Field(ge=1, le=10_000_000)] | None = None
    sales_start: Timestamp | None = None
    sales_end: Timestamp | None = None
    vat_rate_bps: Bps | None = None
    access: AccessProfile | None = None


class TierCreate(TierFields):
    name: Name
    vat_rate_bps: Bps
    access: AccessProfile


class TierUpdate(TierFields):
    """Fields left out stay as they are; `capacity: null` means unlimited."""


class AccessPublic(BaseModel):
    quality: str
    extras: list[str]
    in_venue: bool
    rewatch_hours: int
    max_devices: int
    on_device_limit: str


class PayWhatYouWantPublic(BaseModel):
    min_amount: int
    suggested_amount: int


class TierPublic(BaseModel):
    id: str
    event_id: str
    name: str
    price_amount: int
    currency: str
    pay_what_you_want: PayWhatYouWantPublic | None
    capacity: int | None
    sold: int
    held: int
    available: int | None  # None: unlimited
    sales_start: datetime | None
    sales_end: datetime | None
    vat_rate_bps: int
    access: AccessPublic


class TierList(BaseModel):
    data: list[TierPublic]


# --- split rules ------------------------------------------------------------------


class Party(WriteModel):
    type: Literal["venue", "performer"]
    id: ObjectId


class Share(WriteModel):
    party: Party
    bps: Annotated[StrictInt, Field(ge=1, le=10_000)]


class Cost(WriteModel):
    label: Name
    amount: Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT)]
    currency: Currency


class SplitRuleWrite(WriteModel):
    platform_fee_bps: Bps
    costs: Annotated[list[Cost], Field(max_length=50)] = []
    shares: Annotated[list[Share], Field(min_length=1, max_length=100)]


class SplitRulePublic(BaseModel):
    id: str
    event_id: str
    version: int
    platform_fee_bps: int
    costs: list[Cost]
    shares: list[Share]
    created_at: datetime


class SplitRuleQuery(BaseModel):
    model_config = {"extra": "forbid"}
    version: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
