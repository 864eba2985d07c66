"""The venue's console settings: the origins that may embed its event pages, the
VAT number printed on its buyers' receipts, and whether its admins must log in with
two factors."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlmodel import Session

from config.settings import Settings
from streamsvc import audit
from streamsvc.errors import ValidationFailed
from streamsvc.staff.console import mfa_required
from streamsvc.venues.models import Venue

MAX_ORIGINS = 20
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def origin_of(typed: str) -> str | None:
    """ "https://www.venue.example/path" -> "https://www.venue.example"; None if not an
    http(s) origin (no wildcards, no credentials)."""
    try:
        parts = urlsplit(typed.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not _HOST.match(host) or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def set_embed_origins(session: Session, venue_id: str, typed: list[str]) -> list[str]:
    """Replace the venue's embed origins with those typed (one per line); 422 naming the
    first that is not an origin."""
    origins: list[str] = []
    for line in typed:
        if not line.strip():
            continue
        origin = origin_of(line)
        if origin is None:
            words = {"embed_origins": "not an origin: " + line[:80]}
            raise ValidationFailed("The form has errors.", fields=words)
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        raise ValidationFailed("The form has errors.",
                               fields={"embed_origins": f"at most {MAX_ORIGINS}"})  # fmt: skip
    venue = session.get(Venue, venue_id)
    assert venue is not None
    before = list(venue.embed_origins)
    venue.embed_origins = origins
    session.add(venue)
    if before != origins:
        audit.record(session, venue_id=venue_id, action="venue.embed_origins_changed",
                     object_type="venue", object_id=venue_id,
                     changes={"embed_origins": audit.change(before, origins)})  # fmt: skip
    return origins


# A VAT identification number: the country's two letters, then 2 to 13 letters and
# digits (NL123456789B01, BE0123456789, DE123456789, ATU12345678). Checked loosely on
# purpose: each country's own format and check digits are the tax office's to verify.
VAT_NUMBER = re.compile(r"^[A-Z]{2}[0-9A-Z]{2,13}$")
_VAT_SEPARATORS = re.compile(r"[\s.\-]")


def vat_number_of(typed: str) -> str | None:
    """ "nl 1234.56.789.B01" -> "NL123456789B01"; "" -> None (no number); raises 422
    naming `vat_number` for anything that is not one."""
    compact = _VAT_SEPARATORS.sub("", typed[:40]).upper()
    if not compact:
        return None
    if not VAT_NUMBER.fullmatch(compact):
        said = "a country prefix and 2 to 13 letters or digits (NL123456789B01)"
        raise ValidationFailed("The form has errors.", fields={"vat_number": said})
    return compact


def set_vat_number(session: Session, venue_id: str, typed: str) -> str | None:
    """Set (or, typed empty, remove) the venue's VAT number; a change is audited: it is
    what the venue's receipts state to the tax office."""
    number = vat_number_of(typed)
    venue = session.get(Venue, venue_id)
    assert venue is not None
    before = venue.vat_number
    if before != number:
        venue.vat_number = number
        session.add(venue)
        audit.record(session, venue_id=venue_id, action="venue.vat_number_changed",
                     object_type="venue", object_id=venue_id,
                     changes={"vat_number": audit.change(before, number)})  # fmt: skip
    return number


# A UiTdatabank place id: a UUID, as UiTdatabank names its places.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NOT_A_PLACE = "enter the place's UiTdatabank id, such as 5cf42d51-3a4f-46f0-a8af-1cf672be8c84"


def place_id_of(typed: str) -> str | None:
    """The UUID of a UiTdatabank place, typed bare or as its URL
    (https://io.uitdatabank.be/places/{id}); None if it is neither."""
    value = typed.strip().lower().rstrip("/").rsplit("/", 1)[-1]
    return value if _UUID.match(value) else None


def set_uitdatabank_place(session: Session, venue_id: str, typed: str) -> str | None:
    """Set (or clear, when blank) the venue's UiTdatabank place, where its hybrid events
    are listed as taking place; 422 if what was typed is not a place id."""
    place = place_id_of(typed) if typed.strip() else None
    if typed.strip() and place is None:
        raise ValidationFailed("The form has errors.", fields={"uitdatabank_place": NOT_A_PLACE})
    venue = session.get(Venue, venue_id)
    assert venue is not None
    before = venue.uitdatabank_place_id
    if before != place:
        venue.uitdatabank_place_id = place
        session.add(venue)
        audit.record(session, venue_id=venue_id, action="venue.uitdatabank_place_changed",
                     object_type="venue", object_id=venue_id,
                     changes={"uitdatabank_place_id": audit.change(before, place)})  # fmt: skip
    return place


def set_city(session: Session, venue_id: str, typed: str) -> str | None:
    """Set (or, typed empty, remove) the city the venue is in: the catalogue's city
    filter offers it. 422 naming `city` when it is longer than 100 characters."""
    city = " ".join(typed.split()) or None
    if city is not None and len(city) > 100:
        raise ValidationFailed("The form has errors.", fields={"city": "at most 100 characters"})
    venue = session.get(Venue, venue_id)
    assert venue is not None
    before = venue.city
    if before != city:
        venue.city = city
        session.add(venue)
        audit.record(session, venue_id=venue_id, action="venue.city_changed",
                     object_type="venue", object_id=venue_id,
                     changes={"city": audit.change(before, city)})  # fmt: skip
    return city


def set_mfa_requirement(
    session: Session, settings: Settings, venue_id: str, required: bool
) -> bool:
    """Require (or not) a second factor of the venue's admins; whether it is required now.

    Only a change of what is in force is stored: a venue that never chose keeps the
    installation's default (`require_mfa_for_admins` None: required in production,
    staff/console.py), so saving the form as shown changes nothing. A change is stored
    as the venue's own choice, which holds in production too, and audited with what was
    in force before and after."""
    venue = session.get(Venue, venue_id)
    assert venue is not None
    before = mfa_required(venue, settings)
    if before != required:
        venue.require_mfa_for_admins = required
        session.add(venue)
        changes = {"require_mfa_for_admins": audit.change(before, required)}
        audit.record(session, venue_id=venue_id, action="venue.mfa_requirement_changed",
                     object_type="venue", object_id=venue_id, changes=changes)  # fmt: skip
    return required
