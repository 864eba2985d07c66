"""Request and response shapes of recordings, their offers, rights holders and split
rules, and of the public archive."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
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

from streamsvc.catalog.schemas import Cost
from streamsvc.kit.described import CURRENCY, id_of, money, when
from streamsvc.kit.money import MAX_AMOUNT, Currency
from streamsvc.kit.pagination import PageQuery
from streamsvc.kit.validation import Bps, Country, Email, Name, Text, WriteModel
from streamsvc.recordings.licences import checked as known_licence


def _one_line(value: str) -> str:
    # As names (kit/validation.py): no control, format or unassigned characters, which
    # would make a credit display as something else than it is.
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise ValueError(
                f"may not contain control, format or unassigned characters (U+{ord(char):04X})"
            )
    return value


def _recorded(value: date) -> date:
    # An archive holds the 1950s too (kit/validation.py's Day starts at 2000); sound was
    # first recorded in 1860.
    if value.year < 1860 or value.year > 2200:
        raise ValueError("must be between the years 1860 and 2200")
    return value


RecordedDay = Annotated[date, AfterValidator(_recorded)]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
LicenceCode = Annotated[str, StringConstraints(max_length=32), AfterValidator(known_licence)]
CreditLine = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_one_line),
]
OriginBase = Annotated[AnyUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])]
Kind = Literal["video", "audio"]
Quality = Literal["sd", "hd", "uhd"]
StatusName = Literal["draft", "published", "withdrawn"]
# A concert of more than two days is no recording a player streams in one piece.
MAX_DURATION_SECONDS = 48 * 3600
VAT_LIMIT = 5000  # 50 %: no VAT rate is higher; more is a typo

# --- recordings ---------------------------------------------------------------------

TITLE = "The recording's title, as the archive shows it."
DESCRIPTION = "What the recording is, as the archive shows it (plain text)."
RECORDED_ON = "The day it was recorded (YYYY-MM-DD)."
DURATION = "Its length in whole seconds (5520 is 1 h 32 min); at most 48 hours."
KIND = "`video` (a VideoObject in the archive's open data) or `audio` (a MusicRecording)."
SOURCE_EVENT = "The venue's event it was recorded at (`evt_…`), if any."
PLAYBACK = (
    "The origin's base URL (https://origin.example.org): the media is served under "
    "`/vod/{recording_id}/{quality}/{file}` there, and a master playlist under "
    "`/vod/{recording_id}/{playlist}`. Required to publish."
)
QUALITY = "The best quality the renditions exist in: `sd`, `hd` or `uhd` (and every lower one)."
LICENCE = (
    "The licence, by code: `cc-by-4.0`, `cc-by-sa-4.0`, `cc-by-nd-4.0`, `cc-by-nc-4.0`, "
    "`cc-by-nc-sa-4.0`, `cc-by-nc-nd-4.0`, `cc0-1.0`, `pdm-1.0` (Public Domain Mark) or "
    "`all-rights-reserved`."
)
COPYRIGHT_HOLDER = "Who holds the copyright of the recording (a person or an organisation)."
CREDIT_LINE = "The credit line to show with the recording (schema.org creditText)."
ACCESS_AFTER_WITHDRAWAL = (
    "When the recording is withdrawn: true, what was bought keeps playing; false, it stops."
)
PERFORMER_IDS = "The performers on the recording (`prf_…`), in billing order."
STATUS = (
    "`draft` (being set up, not public), `published` (in the archive, offered) or "
    "`withdrawn` (out of the archive, no new sales)."
)


class RecordingFields(WriteModel):
    """Fields an admin may set on create and change on update."""

    title: Name | None = Field(default=None, description=TITLE)
    description: Text | None = Field(default=None, description=DESCRIPTION)
    recorded_on: RecordedDay | None = Field(default=None, description=RECORDED_ON)
    duration_seconds: Annotated[StrictInt, Field(ge=1, le=MAX_DURATION_SECONDS)] | None = Field(
        default=None, description=DURATION
    )
    kind: Kind | None = Field(default=None, description=KIND)
    source_event_id: ObjectId | None = Field(default=None, description=SOURCE_EVENT)
    playback: OriginBase | None = Field(default=None, description=PLAYBACK)
    quality: Quality | None = Field(default=None, description=QUALITY)
    licence: LicenceCode | None = Field(default=None, description=LICENCE)
    copyright_holder: Name | None = Field(default=None, description=COPYRIGHT_HOLDER)
    credit_line: CreditLine | None = Field(default=None, description=CREDIT_LINE)
    access_continues_after_withdrawal: StrictBool | None = Field(
        default=None, description=ACCESS_AFTER_WITHDRAWAL
    )
    performer_ids: Annotated[list[ObjectId], Field(max_length=100)] | None = Field(
        default=None, description=PERFORMER_IDS
    )


class RecordingCreate(RecordingFields):
    title: Name = Field(description=TITLE)
    recorded_on: RecordedDay = Field(description=RECORDED_ON)
    duration_seconds: Annotated[StrictInt, Field(ge=1, le=MAX_DURATION_SECONDS)] = Field(
        description=DURATION
    )
    kind: Kind = Field(default="video", description=KIND)
    quality: Quality = Field(default="hd", description=QUALITY)
    licence: LicenceCode = Field(description=LICENCE)
    copyright_holder: Name = Field(description=COPYRIGHT_HOLDER)
    credit_line: CreditLine = Field(description=CREDIT_LINE)
    access_continues_after_withdrawal: StrictBool = Field(
        default=True, description=ACCESS_AFTER_WITHDRAWAL
    )
    currency: Currency | None = Field(
        default=None, description=CURRENCY + " The venue's currency when omitted."
    )


class RecordingUpdate(RecordingFields):
    """Fields left out stay as they are; `source_event_id` and `playback` may be null."""


class LicencePublic(BaseModel):
    code: str = Field(description=LICENCE)
    short: str = Field(description="The licence's short name (CC BY-SA 4.0).")
    name: str = Field(description="The licence's full name, as published.")
    url: str | None = Field(
        description="The licence's canonical URL; null for all rights reserved."
    )


class RecordingPublic(BaseModel):
    id: str = Field(description=id_of("the recording", "rec"))
    venue_id: str = Field(description=id_of("the venue it belongs to", "ven"))
    title: str = Field(description=TITLE)
    description: str = Field(description=DESCRIPTION)
    recorded_on: date = Field(description=RECORDED_ON)
    duration_seconds: int = Field(description=DURATION)
    kind: Kind = Field(description=KIND)
    source_event_id: str | None = Field(description=SOURCE_EVENT)
    currency: str = Field(description=CURRENCY)
    playback: str | None = Field(description=PLAYBACK)
    media_path: str = Field(description="The media's path at the origin: /vod/{recording_id}/.")
    quality: Quality = Field(description=QUALITY)
    licence: LicencePublic = Field(description=LICENCE)
    copyright_holder: str = Field(description=COPYRIGHT_HOLDER)
    credit_line: str = Field(description=CREDIT_LINE)
    access_continues_after_withdrawal: bool = Field(description=ACCESS_AFTER_WITHDRAWAL)
    performer_ids: list[str] = Field(description=PERFORMER_IDS)
    status: StatusName = Field(description=STATUS)
    published_at: datetime | None = Field(
        description=when("When it first went into the archive; null: never")
    )
    withdrawn_at: datetime | None = Field(description=when("When it was withdrawn; null: not"))
    created_at: datetime = Field(description=when("When the recording was created"))
    updated_at: datetime = Field(description=when("When the recording last changed"))


class RecordingListQuery(PageQuery):
    status: StatusName | None = Field(default=None, description="Only recordings in this status.")


# --- offers ---------------------------------------------------------------------------

OFFER_PRICE = money(
    "The price, VAT included: at least the payment provider's minimum charge for the "
    "currency (EUR 50); a recording given away has the free offer instead"
)
OFFER_VAT = "The VAT rate included in the price, in basis points (2100 is 21 %; at most 5000)."
START_WITHIN = "Days from buying within which viewing must start (e.g. 30)."
WATCH_HOURS = "Hours the rental plays once viewing started (e.g. 48); at most 30 days."
Price = Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT)]
VatRate = Annotated[StrictInt, Field(ge=0, le=VAT_LIMIT)]


class RentalWrite(WriteModel):
    price_amount: Price = Field(description=OFFER_PRICE)
    vat_rate_bps: VatRate = Field(description=OFFER_VAT)
    start_within_days: Annotated[StrictInt, Field(ge=1, le=365)] = Field(description=START_WITHIN)
    watch_hours: Annotated[StrictInt, Field(ge=1, le=720)] = Field(description=WATCH_HOURS)


class PurchaseWrite(WriteModel):
    price_amount: Price = Field(description=OFFER_PRICE)
    vat_rate_bps: VatRate = Field(description=OFFER_VAT)


class OffersWrite(WriteModel):
    """The recording's offers, all at once: what is left out is no longer offered."""

    rental: RentalWrite | None = Field(default=None, description="A rental; null: none.")
    purchase: PurchaseWrite | None = Field(
        default=None, description="A purchase (watch for as long as the archive exists)."
    )
    free: StrictBool = Field(
        default=False,
        description="Given away: anyone may watch without paying. Not with a rental or "
        "purchase (a recording is free or sold, not both).",
    )


class OfferPublic(BaseModel):
    id: str = Field(description=id_of("the offer", "rof"))
    kind: Literal["rental", "purchase", "free"] = Field(description="What the offer gives.")
    price_amount: int = Field(description=money("The price, VAT included; 0 when free"))
    currency: str = Field(description=CURRENCY)
    vat_rate_bps: int = Field(description=OFFER_VAT)
    start_within_days: int | None = Field(description=START_WITHIN + " Rentals only.")
    watch_hours: int | None = Field(description=WATCH_HOURS + " Rentals only.")
    created_at: datetime = Field(description=when("When the offer was set"))


class OfferList(BaseModel):
    data: list[OfferPublic] = Field(description="The offers now on offer: rental, purchase, free.")


# --- rights holders ---------------------------------------------------------------------

HOLDER_NAME = "The rights holder's name (an estate, a label, a publisher)."
HOLDER_EMAIL = "Where the holder's statements go; never shown publicly."
PAYOUT_REFERENCE = "The venue's own reference for paying the holder (an IBAN, a supplier no.)."
PayoutReference = Annotated[str, StringConstraints(max_length=200)]


class RightsHolderCreate(WriteModel):
    name: Name = Field(description=HOLDER_NAME)
    email: Email = Field(description=HOLDER_EMAIL)
    payout_reference: PayoutReference | None = Field(default=None, description=PAYOUT_REFERENCE)


class RightsHolderUpdate(WriteModel):
    name: Name | None = Field(default=None, description=HOLDER_NAME)
    email: Email | None = Field(default=None, description=HOLDER_EMAIL)
    payout_reference: PayoutReference | None = Field(default=None, description=PAYOUT_REFERENCE)


class RightsHolderPublic(BaseModel):
    id: str = Field(description=id_of("the rights holder", "rhd"))
    name: str = Field(description=HOLDER_NAME)
    email: str = Field(description=HOLDER_EMAIL)
    payout_reference: str | None = Field(description=PAYOUT_REFERENCE)
    created_at: datetime = Field(description=when("When the holder was added"))


# --- split rules ------------------------------------------------------------------------

PARTY_TYPE = "`venue` (the recording's own venue), `performer` or `rights_holder`, of the venue."
SHARE_BPS = "The party's share of what is distributable, in basis points (all sum to 10000)."
PLATFORM_FEE = "The platform's fee on revenue ex VAT, in basis points (500 is 5 %)."
COSTS = "Costs recouped, in this order, before the shares are paid (the recording's currency)."
SHARES = "Who shares what is left, in basis points summing to exactly 10000."


class RecordingParty(WriteModel):
    type: Literal["venue", "performer", "rights_holder"] = Field(description=PARTY_TYPE)
    id: ObjectId = Field(description="The venue's (`ven_…`), performer's or holder's id.")


class RecordingShare(WriteModel):
    party: RecordingParty = Field(description="Who this share goes to.")
    bps: Annotated[StrictInt, Field(ge=1, le=10_000)] = Field(description=SHARE_BPS)


class RecordingSplitRuleWrite(WriteModel):
    platform_fee_bps: Bps = Field(description=PLATFORM_FEE)
    costs: Annotated[list[Cost], Field(max_length=50)] = Field(default=[], description=COSTS)
    shares: Annotated[list[RecordingShare], Field(min_length=1, max_length=100)] = Field(
        description=SHARES
    )


class RecordingSplitRulePublic(BaseModel):
    id: str = Field(description=id_of("this version of the split rule", "rsr"))
    recording_id: str = Field(description=id_of("the recording", "rec"))
    version: int = Field(description="The rule's version: 1, 2, …; every PUT adds one.")
    platform_fee_bps: int = Field(description=PLATFORM_FEE)
    costs: list[Cost] = Field(description=COSTS)
    shares: list[RecordingShare] = Field(description=SHARES)
    created_at: datetime = Field(description=when("When this version was set"))


class SplitRuleQuery(BaseModel):
    model_config = {"extra": "forbid"}
    version: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="Read this version of the rule; the latest when omitted."
    )


# --- the public archive -----------------------------------------------------------------


class VenueRef(BaseModel):
    id: str = Field(description=id_of("the venue", "ven"))
    name: str = Field(description="The venue's name.")


class PerformerRef(BaseModel):
    id: str = Field(description=id_of("the performer", "prf"))
    name: str = Field(description="The performer's name.")


class RecordingListing(BaseModel):
    """A published recording as the archive shows it: nothing of the venue's own."""

    id: str = Field(description=id_of("the recording", "rec"))
    url: str = Field(description="The recording's page.")
    venue: VenueRef = Field(description="The venue it belongs to.")
    title: str = Field(description=TITLE)
    description: str = Field(description=DESCRIPTION)
    recorded_on: date = Field(description=RECORDED_ON)
    duration_seconds: int = Field(description=DURATION)
    kind: Kind = Field(description=KIND)
    licence: LicencePublic = Field(description=LICENCE)
    copyright_holder: str = Field(description=COPYRIGHT_HOLDER)
    credit_line: str = Field(description=CREDIT_LINE)
    performers: list[PerformerRef] = Field(description="The performers, in billing order.")
    offers: list[OfferPublic] = Field(description="What is offered: rental, purchase, free.")
    published_at: datetime = Field(description=when("When it went into the archive"))
    updated_at: datetime = Field(description=when("When the recording last changed"))


class ArchiveQuery(PageQuery):
    """Newest first; narrowed by venue and licence."""

    venue_id: ObjectId | None = Field(default=None, description="Only this venue's recordings.")
    licence: LicenceCode | None = Field(default=None, description="Only this licence. " + LICENCE)


# --- buying an offer --------------------------------------------------------------------


class RecordingOrderCreate(WriteModel):
    """One offer of the recording, for one buyer: one access (recordings/buying.py)."""

    offer_id: ObjectId = Field(description=id_of("the offer bought, one now on offer", "rof"))
    email: Email = Field(description="Where the watch link is mailed; the buyer's address.")
    country: Country | None = Field(
        default=None, description="Where the buyer watches from: ISO 3166-1 alpha-2."
    )
