"""A listing as a schema.org Event in JSON-LD, for search engines and listings platforms."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from streamsvc.kit.money import Money
from streamsvc.listings.schemas import EventListing, TierListing

SCHEMA = "https://schema.org/"
_STATUS = {"cancelled": "EventCancelled"}
_MODE = {"online": "OnlineEventAttendanceMode", "hybrid": "MixedEventAttendanceMode"}


def event_jsonld(event: EventListing, now: datetime) -> dict[str, Any]:
    location: list[dict[str, Any]] = [{"@type": "VirtualLocation", "url": event.url}]
    if event.attendance_mode == "hybrid":
        location.append(
            {
                "@type": "Place",
                "name": event.venue.name,
                "address": {"@type": "PostalAddress", "addressCountry": event.venue.country},
            }
        )
    doors = event.starts_at - timedelta(minutes=event.doors_open_minutes)
    found: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": event.url,
        "url": event.url,
        "name": event.title,
        "description": event.description,
        "startDate": event.starts_at.isoformat(),
        "endDate": event.ends_at.isoformat(),
        "doorTime": doors.isoformat(),
        "eventAttendanceMode": SCHEMA + _MODE[event.attendance_mode],
        "eventStatus": SCHEMA + _STATUS.get(event.status, "EventScheduled"),
        "location": location,
        "organizer": {"@type": "Organization", "name": event.venue.name},
        "performer": [{"@type": "Person", "name": p.name} for p in event.performers],
        "offers": [_offer(tier, event, now) for tier in event.tiers],
    }
    if event.previous_starts_at is not None and event.status != "cancelled":
        found["eventStatus"] = SCHEMA + "EventRescheduled"
        found["previousStartDate"] = event.previous_starts_at.isoformat()
    return found


def _offer(tier: TierListing, event: EventListing, now: datetime) -> dict[str, Any]:
    pwyw = tier.pay_what_you_want
    price = Money(pwyw.min_amount if pwyw else tier.price_amount, tier.currency)
    offer: dict[str, Any] = {
        "@type": "Offer",
        "name": tier.name,
        "url": event.url,
        "price": price.decimal_string(),
        "priceCurrency": tier.currency,
        "availability": SCHEMA + _availability(tier, now),
        "validThrough": (tier.sales_end or event.ends_at).isoformat(),
    }
    if tier.sales_start is not None:
        offer["validFrom"] = tier.sales_start.isoformat()
    if pwyw:
        offer["priceSpecification"] = {
            "@type": "PriceSpecification",
            "minPrice": price.decimal_string(),
            "price": Money(pwyw.suggested_amount, tier.currency).decimal_string(),
            "priceCurrency": tier.currency,
        }
    return offer


def _availability(tier: TierListing, now: datetime) -> str:
    if tier.sold_out:
        return "SoldOut"
    if tier.on_sale_now:
        return "InStock"
    if tier.sales_start is not None and now < tier.sales_start:
        return "PreSale"
    return "Discontinued"
