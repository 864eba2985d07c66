"""The archive as open data: schema.org JSON-LD of a recording, and an Atom feed
(RFC 4287) of the newest recordings, with each one's licence as a `license` link
(RFC 4946)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from streamsvc.kit.money import Money
from streamsvc.recordings.schemas import OfferPublic, RecordingListing

_ATOM = "http://www.w3.org/2005/Atom"
# The feed's tag URI date (RFC 4151): the year the archive's URIs were first minted.
_FEED_YEAR = "2026"
# Characters XML 1.0 cannot carry at all, escaped or not (a description may hold them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def iso_duration(seconds: int) -> str:
    """5520 -> "PT1H32M"; 45 -> "PT45S" (ISO 8601, as schema.org `duration` wants)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return "PT" + parts + (f"{secs}S" if secs or not parts else "")


def recording_jsonld(recording: RecordingListing) -> dict[str, Any]:
    """A VideoObject (or a MusicRecording for audio) with its licence and rights."""
    people = [{"@type": "Person", "name": p.name} for p in recording.performers]
    found: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "VideoObject" if recording.kind == "video" else "MusicRecording",
        "@id": recording.url,
        "url": recording.url,
        "name": recording.title,
        "description": recording.description,
        "duration": iso_duration(recording.duration_seconds),
        "dateCreated": recording.recorded_on.isoformat(),
        "uploadDate": recording.published_at.isoformat(),
        "copyrightHolder": recording.copyright_holder,
        "creditText": recording.credit_line,
        "publisher": {"@type": "Organization", "name": recording.venue.name},
        "contributor": people,
        "offers": [_offer(offer, recording.url) for offer in recording.offers],
    }
    if recording.kind == "audio":
        found["byArtist"] = people
    if recording.licence.url is not None:
        found["license"] = recording.licence.url
    return found


def _offer(offer: OfferPublic, url: str) -> dict[str, Any]:
    found: dict[str, Any] = {
        "@type": "Offer",
        "url": url,
        "category": offer.kind,
        "price": Money(offer.price_amount, offer.currency).decimal_string(),
        "priceCurrency": offer.currency,
        "availability": "https://schema.org/InStock",
    }
    if offer.watch_hours is not None:  # a rental: how long it plays once started
        found["eligibleDuration"] = {
            "@type": "QuantitativeValue",
            "value": offer.watch_hours,
            "unitCode": "HUR",
        }
    return found


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def entry_id(base_url: str, recording: RecordingListing) -> str:
    """tag:{host},{day it went into the archive}:recording/{id}: the same for ever."""
    day = recording.published_at.astimezone(UTC).date().isoformat()
    return f"tag:{_host(base_url)},{day}:recording/{recording.id}"


def _host(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


def atom_feed(recordings: list[RecordingListing], base_url: str, now: datetime) -> bytes:
    """The feed of these recordings (newest first), as UTF-8 XML."""
    ET.register_namespace("", _ATOM)

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{_ATOM}}}{name}", attrs)
        if text is not None:
            element.text = _NOT_XML.sub("", text)
        return element

    feed = ET.Element(f"{{{_ATOM}}}feed")
    sub(feed, "id", f"tag:{_host(base_url)},{_FEED_YEAR}:archive")
    sub(feed, "title", "streamsvc archive: recorded concerts")
    updated = max((r.updated_at for r in recordings), default=now)
    sub(feed, "updated", _rfc3339(updated))
    sub(feed, "link", rel="self", href=f"{base_url}/archive/feed.atom", type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=f"{base_url}/archive", type="text/html")
    author = sub(feed, "author")
    sub(author, "name", "streamsvc")
    for recording in recordings:
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(base_url, recording))
        sub(entry, "title", recording.title)
        sub(entry, "published", _rfc3339(recording.published_at))
        sub(entry, "updated", _rfc3339(recording.updated_at))
        sub(entry, "link", rel="alternate", href=recording.url, type="text/html")
        if recording.licence.url is not None:
            sub(entry, "link", rel="license", href=recording.licence.url)
        who = sub(entry, "author")
        sub(who, "name", recording.venue.name)
        if recording.description:
            sub(entry, "summary", recording.description)
        rights = f"{recording.licence.short}. {recording.credit_line}"
        sub(entry, "rights", f"{rights} © {recording.copyright_holder}")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
