"""An event as UiTdatabank's Entry API takes it: a pure function of the event, its venue
and its tiers.

Follows the Entry API as documented on 2026-08-20 (ENTRY_API_AS_OF), read from
publiq's documentation sources (github.com/cultuurnet/apidocs, commit a40a0e2):
- the event model, projects/uitdatabank/models/event.json and event-post.json
  (https://docs.publiq.be/docs/uitdatabank/entry-api/reference): required
  `mainLanguage`, `name`, `terms` (exactly one of domain `eventtype`), `calendarType`,
  and `location` except when `attendanceMode` is `online`;
- calendar info (https://docs.publiq.be/docs/uitdatabank/entry-api/shared/calendar-info):
  calendarType `single` takes exactly one `subEvent` with `startDate` and `endDate`,
  ISO 8601 / RFC 3339 datetimes with their UTC offset;
- price info (https://docs.publiq.be/docs/uitdatabank/entry-api/shared/price-info):
  one `base` entry named Basistarief and a `tariff` per other price, each a number of
  EUR (the only currency UiTdatabank takes);
- booking info (common-bookingInfo.json): a `url` needs a `urlLabel`;
- status (https://docs.publiq.be/docs/uitdatabank/entry-api/events/status): `Available`,
  `Unavailable` (cancelled, with an optional localised `reason`);
- publishing (https://docs.publiq.be/docs/uitdatabank/entry-api/events/publish):
  `workflowStatus` READY_FOR_VALIDATION on create makes the event visible at once.

What we sell is streamed: an online event is `online` (no location: UiTdatabank files
it under its online location), a hybrid one `mixed` at the venue's UiTdatabank place.
`onlineUrl` and the booking link both point to our public event page. We write one
language (the installation's STREAMSVC_UITDATABANK_LANGUAGE): the title and text are
as the venue typed them; the fixed words (tariff and link labels) come in all four.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from streamsvc.catalog.event_types import event_type
from streamsvc.catalog.models import Event, Tier
from streamsvc.kit.money import exponent
from streamsvc.venues.models import Venue

ENTRY_API_AS_OF = "2026-08-20"
LANGUAGES = ("nl", "fr", "de", "en")
BASE_TARIFF = {"nl": "Basistarief", "fr": "Tarif de base", "de": "Basisrate", "en": "Base tariff"}
BOOKING_LABEL = {
    "nl": "Koop tickets", "fr": "Achetez des tickets", "de": "Tickets kaufen", "en": "Buy tickets"
}  # fmt: skip
CANCELLED_REASON = {
    "nl": "Deze voorstelling is geannuleerd.",
    "fr": "Cette représentation est annulée.",
    "de": "Diese Veranstaltung wurde abgesagt.",
    "en": "This event is cancelled.",
}


class Unlistable(ValueError):
    """The event cannot be offered as it stands; the message says why, in words an
    admin can act on (it is shown on the console's event page)."""


@dataclass(frozen=True)
class Listed:
    """What the mapping reads of an event, its venue and its tiers."""

    event_id: str
    title: str
    description: str
    starts_at: Any  # aware datetimes
    ends_at: Any
    timezone: str
    attendance_mode: str  # online | hybrid
    currency: str
    type_code: str | None
    place_id: str | None  # the venue's UiTdatabank place
    prices: Sequence[tuple[str, int]]  # (tier name, amount in minor units), display order


def listed(event: Event, venue: Venue, tiers: Sequence[Tier]) -> Listed:
    """What is listed of an event, its venue and its tiers (a pay-what-you-want tier at
    the least it takes: UiTdatabank shows a price a buyer can pay)."""
    ordered = sorted(tiers, key=lambda tier: (tier.position, tier.id))
    prices = [
        (t.name, t.pwyw_min_amount if t.pwyw_min_amount is not None else t.price_amount)
        for t in ordered
    ]
    return Listed(
        event_id=event.id, title=event.title, description=event.description,
        starts_at=event.starts_at, ends_at=event.ends_at, timezone=event.timezone,
        attendance_mode=event.attendance_mode, currency=event.currency,
        type_code=event.uitdatabank_type, place_id=venue.uitdatabank_place_id, prices=prices,
    )  # fmt: skip


def rfc3339(moment: Any, timezone: str) -> str:
    """2026-12-11T20:00:00+01:00: the moment in the event's own zone, with its offset."""
    return str(moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds"))


def euros(amount: int, currency: str) -> float:
    """Minor units as the number UiTdatabank takes (1950 -> 19.5), exactly: a decimal of at
    most two places is printed by json as its shortest repr, which is that decimal."""
    return float(Decimal(amount).scaleb(-exponent(currency)))


def _prices(listed: Listed, language: str) -> list[dict[str, Any]]:
    if not listed.prices:
        raise Unlistable("the event has no tier, so no price to list")
    (_, base), *others = listed.prices
    entries: list[dict[str, Any]] = [
        {
            "category": "base",
            "price": euros(base, listed.currency),
            "priceCurrency": "EUR",
            "name": dict(BASE_TARIFF),
        }
    ]
    # Tariff names must differ per language, also from the base's.
    taken = {BASE_TARIFF[language].casefold()}
    for name, amount in others:
        label, n = name, 2
        while label.casefold() in taken:
            label, n = f"{name} ({n})", n + 1
        taken.add(label.casefold())
        entries.append({"category": "tariff", "price": euros(amount, listed.currency),
                        "priceCurrency": "EUR", "name": {language: label}})  # fmt: skip
    return entries


def event_body(listed: Listed, *, event_url: str, entry_url: str, language: str) -> dict[str, Any]:
    """The body of POST /events and PUT /events/{id}; Unlistable if it cannot be listed.

    `event_url` is our public page of the event; `entry_url` the Entry API's base URL,
    under which UiTdatabank names places (`{entry_url}/places/{id}`)."""
    if listed.type_code is None or event_type(listed.type_code) is None:
        raise Unlistable("choose a UiTdatabank event type for the event")
    if listed.currency != "EUR":
        raise Unlistable("UiTdatabank lists prices in EUR only")
    body: dict[str, Any] = {
        "mainLanguage": language,
        "name": {language: listed.title},
        "terms": [{"id": listed.type_code, "domain": "eventtype"}],
        "calendarType": "single",
        "subEvent": [
            {
                "startDate": rfc3339(listed.starts_at, listed.timezone),
                "endDate": rfc3339(listed.ends_at, listed.timezone),
            }
        ],
        "attendanceMode": "online",
        "onlineUrl": event_url,
        "priceInfo": _prices(listed, language),
        "bookingInfo": {"url": event_url, "urlLabel": dict(BOOKING_LABEL)},
        "status": {"type": "Available"},
        "workflowStatus": "READY_FOR_VALIDATION",
    }
    if listed.description.strip():
        body["description"] = {language: listed.description}
    if listed.attendance_mode == "hybrid":
        if not listed.place_id:
            raise Unlistable("set the venue's UiTdatabank place (a hybrid event takes place there)")
        body["attendanceMode"] = "mixed"
        body["location"] = {"@id": f"{entry_url.rstrip('/')}/places/{listed.place_id}"}
    return body


def cancelled_status(language: str) -> dict[str, Any]:
    """The body of PUT /events/{id}/status for a cancelled event."""
    return {"type": "Unavailable", "reason": {language: CANCELLED_REASON[language]}}


def digest(body: dict[str, Any]) -> str:
    """A fingerprint of a body: equal bodies, equal digests (keys sorted)."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
