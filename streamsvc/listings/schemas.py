"""The public shape of the catalogue: what a buyer or a listings platform may see."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from streamsvc.catalog.schemas import (
    ALLOWED_COUNTRIES,
    CAPACITY,
    DOORS_OPEN,
    ENDS_AT,
    EVENT_DESCRIPTION,
    PAY_WHAT_YOU_WANT,
    PRICE,
    SALES_END,
    SALES_START,
    STARTS_AT,
    TIER_NAME,
    TITLE,
    AttendanceMode,
    EventStatusName,
    PayWhatYouWantPublic,
)
from streamsvc.kit.described import (
    ATTENDANCE_MODE,
    COUNTRY,
    CURRENCY,
    EVENT_STATUS,
    EXTRAS,
    IN_VENUE,
    MAX_DEVICES,
    QUALITY,
    TIMEZONE,
    id_of,
    when,
)


class VenueListing(BaseModel):
    id: str = Field(description=id_of("the venue", "ven"))
    name: str = Field(description="The venue's name.")
    slug: str = Field(description="The venue's short, unique, URL-safe name.")
    country: str = Field(description=COUNTRY)
    city: str | None = Field(default=None, description="The venue's city; null: not given.")


class PerformerListing(BaseModel):
    id: str = Field(description=id_of("the performer", "prf"))
    name: str = Field(description="The performer's name.")


class AccessListing(BaseModel):
    quality: str = Field(description=QUALITY)
    extras: list[str] = Field(description=EXTRAS)
    in_venue: bool = Field(description=IN_VENUE)
    rewatch_hours: int = Field(
        description="Hours after the event's end a ticket still plays (the tier's rewatch, "
        "within the event's replay window)."
    )
    max_devices: int = Field(description=MAX_DEVICES)


class TierListing(BaseModel):
    id: str = Field(description=id_of("the tier (the `tier_id` of an order item)", "tier"))
    name: str = Field(description=TIER_NAME)
    price_amount: int = Field(description=PRICE)
    currency: str = Field(description=CURRENCY)
    pay_what_you_want: PayWhatYouWantPublic | None = Field(description=PAY_WHAT_YOU_WANT)
    capacity: int | None = Field(description=CAPACITY)
    available: int | None = Field(description="Tickets still for sale; null: unlimited.")
    sold_out: bool = Field(description="True when no ticket is left.")
    on_sale_now: bool = Field(
        description="True inside the tier's sales window while the event is on sale or live."
    )
    sales_start: datetime | None = Field(description=SALES_START)
    sales_end: datetime | None = Field(description=SALES_END)
    access: AccessListing = Field(description="What a ticket of this tier lets one watch.")


class EventListing(BaseModel):
    id: str = Field(description=id_of("the event", "evt"))
    title: str = Field(description=TITLE)
    description: str = Field(description=EVENT_DESCRIPTION)
    starts_at: datetime = Field(description=STARTS_AT)
    ends_at: datetime = Field(description=ENDS_AT)
    timezone: str = Field(description=TIMEZONE)
    attendance_mode: AttendanceMode = Field(description=ATTENDANCE_MODE)
    currency: str = Field(description=CURRENCY)
    doors_open_minutes: int = Field(description=DOORS_OPEN)
    replay_hours: int = Field(
        description="The most hours after the end any of its tiers plays (the replay window)."
    )
    allowed_countries: list[str] = Field(description=ALLOWED_COUNTRIES)
    status: EventStatusName = Field(description=EVENT_STATUS)
    url: str = Field(description="The event's public page (its address in this API).")
    venue: VenueListing = Field(description="The venue selling it.")
    performers: list[PerformerListing] = Field(description="Its performers, in billing order.")
    tiers: list[TierListing] = Field(description="Its tiers, in the venue's order.")
    previous_starts_at: datetime | None = Field(
        default=None,
        description=when(
            "Set when the event was rescheduled: the start it had before (its JSON-LD says "
            "EventRescheduled with this as previousStartDate); null otherwise"
        ),
    )
    rescheduled_at: datetime | None = Field(
        default=None, description=when("When the event was last rescheduled; null: never")
    )
