"""Request and response shapes of performers, events, tiers and split rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    UrlConstraints,
)

from streamsvc.catalog.event_types import checked as known_event_type
from streamsvc.kit.described import (
    ATTENDANCE_MODE,
    CURRENCY,
    EVENT_STATUS,
    EXTRAS,
    IN_VENUE,
    MAX_DEVICES,
    ON_DEVICE_LIMIT,
    QUALITY,
    REWATCH_HOURS,
    TIMEZONE,
    id_of,
    money,
    when,
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
UitdatabankType = Annotated[
    str, StringConstraints(min_length=1, max_length=20), AfterValidator(known_event_type)
]
EventStatusName = Literal["draft", "on_sale", "live", "ended", "cancelled"]


# --- performers -------------------------------------------------------------------


PERFORMER_NAME = "The performer's name, as statements and the public catalogue show it."
PERFORMER_EMAIL = "Where the performer's statements go; never shown publicly."
PAYOUT_REFERENCE = "The venue's own reference for paying the performer (an IBAN, a supplier no.)."


class PerformerCreate(WriteModel):
    name: Name = Field(description=PERFORMER_NAME)
    email: Email = Field(description=PERFORMER_EMAIL)
    payout_reference: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description=PAYOUT_REFERENCE
    )


class PerformerUpdate(WriteModel):
    name: Name | None = Field(default=None, description=PERFORMER_NAME)
    email: Email | None = Field(default=None, description=PERFORMER_EMAIL)
    payout_reference: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description=PAYOUT_REFERENCE
    )


class PerformerPublic(BaseModel):
    id: str = Field(description=id_of("the performer", "prf"))
    name: str = Field(description=PERFORMER_NAME)
    email: str = Field(description=PERFORMER_EMAIL)
    payout_reference: str | None = Field(description=PAYOUT_REFERENCE)
    created_at: datetime = Field(description=when("When the performer was added"))


# --- events -----------------------------------------------------------------------


TITLE = "The event's title."
EVENT_DESCRIPTION = "What the event is, as the public catalogue shows it (plain text)."
STARTS_AT = when("When the performance starts; the event is `live` from then")
ENDS_AT = when("When the performance ends; the event is `ended` from then")
DOORS_OPEN = "Minutes before starts_at that tickets may be redeemed (the stream's doors)."
REPLAY_HOURS = "Hours after ends_at the venue keeps the replay online; tiers rewatch within it."
ALLOWED_COUNTRIES = "Countries viewers may watch from (ISO 3166-1 alpha-2); empty: everywhere."
PLAYBACK = "The origin URL the media server serves the stream under, e.g. https://origin/live."
PERFORMER_IDS = "The performers of the event (`prf_…`), in billing order."
UITDATABANK_TYPE = (
    "The UiTdatabank event type the event is offered to the sector's listings under "
    "(a term id such as `0.50.4.0.0`, Concert; `0.55.0.0.0`, Theatervoorstelling), from "
    "the snapshot of UiTdatabank's types shipped with the service; null: not offered."
)


class EventFields(WriteModel):
    """Fields an admin may set on create and change on update."""

    title: Name | None = Field(default=None, description=TITLE)
    description: Text | None = Field(default=None, description=EVENT_DESCRIPTION)
    starts_at: Timestamp | None = Field(default=None, description=STARTS_AT)
    ends_at: Timestamp | None = Field(default=None, description=ENDS_AT)
    timezone: Timezone | None = Field(default=None, description=TIMEZONE)
    attendance_mode: AttendanceMode | None = Field(default=None, description=ATTENDANCE_MODE)
    doors_open_minutes: Annotated[StrictInt, Field(ge=0, le=24 * 60)] | None = Field(
        default=None, description=DOORS_OPEN
    )
    replay_hours: Annotated[StrictInt, Field(ge=0, le=24 * 365)] | None = Field(
        default=None, description=REPLAY_HOURS
    )
    allowed_countries: Annotated[list[Country], Field(max_length=250)] | None = Field(
        default=None, description=ALLOWED_COUNTRIES
    )
    playback: OriginUrl | None = Field(default=None, description=PLAYBACK)
    performer_ids: Annotated[list[ObjectId], Field(max_length=100)] | None = Field(
        default=None, description=PERFORMER_IDS
    )
    uitdatabank_type: UitdatabankType | None = Field(default=None, description=UITDATABANK_TYPE)


class EventCreate(EventFields):
    title: Name = Field(description=TITLE)
    starts_at: Timestamp = Field(description=STARTS_AT)
    ends_at: Timestamp = Field(description=ENDS_AT)
    timezone: Timezone = Field(description=TIMEZONE)
    attendance_mode: AttendanceMode = Field(description=ATTENDANCE_MODE)
    currency: Currency | None = Field(
        default=None, description=CURRENCY + " The venue's currency when omitted."
    )
    doors_open_minutes: Annotated[StrictInt, Field(ge=0, le=24 * 60)] = Field(
        default=30, description=DOORS_OPEN
    )
    replay_hours: Annotated[StrictInt, Field(ge=0, le=24 * 365)] = Field(
        default=0, description=REPLAY_HOURS
    )


class EventUpdate(EventFields):
    status: Literal["on_sale", "live", "ended"] | None = Field(
        default=None,
        description="Move the event on: `live` starts it early, `ended` ends it early "
        "(409 with current_status for any other move; publish puts a draft on sale).",
    )


class EventPublic(BaseModel):
    id: str = Field(description=id_of("the event", "evt"))
    venue_id: str = Field(description=id_of("the venue selling it", "ven"))
    title: str = Field(description=TITLE)
    description: str = Field(description=EVENT_DESCRIPTION)
    starts_at: datetime = Field(description=STARTS_AT)
    ends_at: datetime = Field(description=ENDS_AT)
    timezone: str = Field(description=TIMEZONE)
    attendance_mode: AttendanceMode = Field(description=ATTENDANCE_MODE)
    currency: str = Field(description=CURRENCY)
    doors_open_minutes: int = Field(description=DOORS_OPEN)
    replay_hours: int = Field(description=REPLAY_HOURS)
    allowed_countries: list[str] = Field(description=ALLOWED_COUNTRIES)
    playback: str | None = Field(description=PLAYBACK)
    performer_ids: list[str] = Field(description=PERFORMER_IDS)
    uitdatabank_type: str | None = Field(default=None, description=UITDATABANK_TYPE)
    status: EventStatusName = Field(description=EVENT_STATUS)
    published_at: datetime | None = Field(description=when("When it went on sale; null: a draft"))
    created_at: datetime = Field(description=when("When the event was created"))
    updated_at: datetime = Field(description=when("When the event last changed"))


class EventListQuery(PageQuery):
    status: EventStatusName | None = Field(
        default=None, description="Only events in this status. " + EVENT_STATUS
    )


# --- tiers ------------------------------------------------------------------------


PWYW_MIN = money(
    "The least a buyer may pay per ticket: 0 (a buyer may take it free or give a "
    "donation) or at least the payment provider's minimum charge"
)
PWYW_SUGGESTED = money("The amount proposed to the buyer (the tier's shown price)")
TIER_NAME = "The tier's name, as buyers see it."
PRICE = money(
    "The price of one ticket, VAT included: 0 (a free tier) or at least the payment "
    "provider's minimum charge for the currency (EUR 50)"
)
PAY_WHAT_YOU_WANT = "Set for a pay-what-you-want tier (price_amount is then the suggestion)."
CAPACITY = "Most tickets the tier sells; null: unlimited (in-venue tiers need one)."
SALES_START = when("When sales open; null: as soon as the event is on sale")
SALES_END = when("When sales close; null: at the event's end")
VAT_RATE = "The VAT rate included in the price, in basis points (2100 is 21 %)."
ACCESS = "What a ticket of this tier lets its holder watch, and on how many devices."
INCLUDED_RECORDING = id_of("the venue's recording the tier includes", "rec") + (
    " Its holders may watch it for recording_days after the event: each paid order gets an "
    "access, mailed once the event has ended. Null: none included."
)
INCLUDED_DAYS = (
    "Days after the event's end the included recording plays (1 to 365); set with "
    "recording_id, or both null."
)


class PayWhatYouWant(WriteModel):
    min_amount: Amount = Field(description=PWYW_MIN)
    suggested_amount: Amount = Field(description=PWYW_SUGGESTED)


class AccessProfile(WriteModel):
    quality: Literal["sd", "hd", "uhd"] = Field(description=QUALITY)
    extras: Annotated[list[Extra], Field(max_length=20)] = Field(default=[], description=EXTRAS)
    in_venue: StrictBool = Field(default=False, description=IN_VENUE)
    rewatch_hours: Annotated[StrictInt, Field(ge=0, le=24 * 365)] = Field(
        default=0, description=REWATCH_HOURS
    )
    max_devices: Annotated[StrictInt, Field(ge=1, le=20)] = Field(
        default=1, description=MAX_DEVICES
    )
    on_device_limit: Literal["refuse", "drop_oldest"] = Field(
        default="refuse", description=ON_DEVICE_LIMIT
    )


COMPONENTS = (
    "A bundle's parts (e.g. admission and stream), each with its own VAT rate: their "
    "amounts sum to price_amount exactly (2 to 4 parts). A pay-what-you-want bundle divides "
    "the chosen amount in the same proportions. Empty: the tier's one vat_rate_bps. Fixed "
    "once the tier has sales."
)
COMPONENT_LABEL = "What this part of the price is for, as receipts show it (`Admission`)."
COMPONENT_AMOUNT = money("This part of one ticket's price, VAT included")
COMPONENT_VAT_RATE = "The VAT rate of this part, in basis points (900 is 9 %; at most 5000)."


class Component(WriteModel):
    label: Name = Field(description=COMPONENT_LABEL)
    amount: Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT)] = Field(description=COMPONENT_AMOUNT)
    vat_rate_bps: Bps = Field(description=COMPONENT_VAT_RATE)


class ComponentPublic(BaseModel):
    label: str = Field(description=COMPONENT_LABEL)
    amount: int = Field(description=COMPONENT_AMOUNT)
    vat_rate_bps: int = Field(description=COMPONENT_VAT_RATE)


class TierFields(WriteModel):
    name: Name | None = Field(default=None, description=TIER_NAME)
    price_amount: Amount | None = Field(
        default=None, description=PRICE + " Required unless pay_what_you_want is set."
    )
    pay_what_you_want: PayWhatYouWant | None = Field(default=None, description=PAY_WHAT_YOU_WANT)
    capacity: Annotated[StrictInt, Field(ge=1, le=10_000_000)] | None = Field(
        default=None, description=CAPACITY
    )
    sales_start: Timestamp | None = Field(default=None, description=SALES_START)
    sales_end: Timestamp | None = Field(default=None, description=SALES_END)
    vat_rate_bps: Bps | None = Field(default=None, description=VAT_RATE)
    access: AccessProfile | None = Field(default=None, description=ACCESS)
    components: Annotated[list[Component], Field(max_length=10)] | None = Field(
        default=None, description=COMPONENTS
    )
    recording_id: ObjectId | None = Field(default=None, description=INCLUDED_RECORDING)
    recording_days: Annotated[StrictInt, Field(ge=1, le=365)] | None = Field(
        default=None, description=INCLUDED_DAYS
    )


class TierCreate(TierFields):
    name: Name = Field(description=TIER_NAME)
    vat_rate_bps: Bps = Field(description=VAT_RATE)
    access: AccessProfile = Field(description=ACCESS)


class TierUpdate(TierFields):
    """Fields left out stay as they are; `capacity: null` means unlimited."""


class AccessPublic(BaseModel):
    quality: str = Field(description=QUALITY)
    extras: list[str] = Field(description=EXTRAS)
    in_venue: bool = Field(description=IN_VENUE)
    rewatch_hours: int = Field(description=REWATCH_HOURS)
    max_devices: int = Field(description=MAX_DEVICES)
    on_device_limit: str = Field(description=ON_DEVICE_LIMIT)


class PayWhatYouWantPublic(BaseModel):
    min_amount: int = Field(description=PWYW_MIN)
    suggested_amount: int = Field(description=PWYW_SUGGESTED)


class TierPublic(BaseModel):
    id: str = Field(description=id_of("the tier", "tier"))
    event_id: str = Field(description=id_of("the tier's event", "evt"))
    name: str = Field(description=TIER_NAME)
    price_amount: int = Field(description=PRICE)
    currency: str = Field(description=CURRENCY)
    pay_what_you_want: PayWhatYouWantPublic | None = Field(description=PAY_WHAT_YOU_WANT)
    capacity: int | None = Field(description=CAPACITY)
    sold: int = Field(description="Tickets sold (paid orders).")
    held: int = Field(description="Tickets reserved by pending orders, not yet paid.")
    available: int | None = Field(
        description="Tickets still for sale: capacity - sold - held; null: unlimited."
    )
    sales_start: datetime | None = Field(description=SALES_START)
    sales_end: datetime | None = Field(description=SALES_END)
    vat_rate_bps: int = Field(description=VAT_RATE)
    access: AccessPublic = Field(description=ACCESS)
    components: list[ComponentPublic] = Field(default=[], description=COMPONENTS)
    recording_id: str | None = Field(default=None, description=INCLUDED_RECORDING)
    recording_days: int | None = Field(default=None, description=INCLUDED_DAYS)


class TierList(BaseModel):
    data: list[TierPublic] = Field(description="The event's tiers, in the order they were added.")


# --- split rules ------------------------------------------------------------------


class Party(WriteModel):
    type: Literal["venue", "performer"] = Field(description="Who receives the share.")
    id: ObjectId = Field(description="The venue's id (`ven_…`) or the performer's (`prf_…`).")


SHARE_BPS = "The party's share of what is distributable, in basis points (all sum to 10000)."
GUARANTEE = (
    money(
        "A guarantee (a versus deal): the party receives the greater of this and its share of "
        "the event's distributable, the difference coming from the other parties by their "
        "shares, never more than the distributable; settled over the event's whole revenue",
        "the event's currency",
    )
    + " Null or absent: no guarantee."
)
COST_AMOUNT = money("The cost, recouped before any share is paid", "the cost's `currency`")


class Share(WriteModel):
    party: Party = Field(description="The venue or performer this share goes to.")
    bps: Annotated[StrictInt, Field(ge=1, le=10_000)] = Field(description=SHARE_BPS)
    guarantee_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)] | None = Field(
        # Left out of answers when absent, so a rule without deals reads as it always did.
        default=None,
        description=GUARANTEE,
        exclude_if=lambda amount: amount is None,
    )


class Cost(WriteModel):
    label: Name = Field(description="What the cost is for, as statements show it.")
    amount: Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT)] = Field(description=COST_AMOUNT)
    currency: Currency = Field(description=CURRENCY + " The event's currency.")


PLATFORM_FEE = "The platform's fee on revenue ex VAT, in basis points (500 is 5 %)."
COSTS = "Costs recouped, in this order, before the shares are paid."
SHARES = "Who shares what is left, in basis points summing to exactly 10000."


class SplitRuleWrite(WriteModel):
    platform_fee_bps: Bps = Field(description=PLATFORM_FEE)
    costs: Annotated[list[Cost], Field(max_length=50)] = Field(default=[], description=COSTS)
    shares: Annotated[list[Share], Field(min_length=1, max_length=100)] = Field(description=SHARES)


class SplitRulePublic(BaseModel):
    id: str = Field(description=id_of("this version of the split rule", "spr"))
    event_id: str = Field(description=id_of("the event", "evt"))
    version: int = Field(description="The rule's version: 1, 2, …; every PUT adds one.")
    platform_fee_bps: int = Field(description=PLATFORM_FEE)
    costs: list[Cost] = Field(description=COSTS)
    shares: list[Share] = Field(description=SHARES)
    created_at: datetime = Field(description=when("When this version was set"))


class SplitRuleQuery(BaseModel):
    model_config = {"extra": "forbid"}
    version: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="Read this version of the rule; the latest when omitted."
    )
