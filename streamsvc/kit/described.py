"""What the API's recurring kinds of field mean, said once, for `Field(description=...)`.

The OpenAPI document (`/openapi.json`) carries these to every client; a field of the
same kind reads the same everywhere. tests/http/test_openapi_contract.py checks that
every property has a description and every money field says "minor units".
"""

from __future__ import annotations


def money(what: str, currency: str = "`currency`") -> str:
    """A money field: always an integer of the currency's minor units."""
    return f"{what}, in integer minor units (cents) of {currency}: 1950 is 19.50."


def when(what: str) -> str:
    """A timestamp field."""
    return f"{what}: RFC 3339 with offset (the API answers in UTC, e.g. 2027-03-01T19:00:00Z)."


def id_of(what: str, prefix: str) -> str:
    """An id field: opaque, with the kind's prefix."""
    return f"The id of {what} (`{prefix}_…`, opaque)."


CURRENCY = "ISO 4217 currency code, upper case (EUR); every amount beside it is in its minor units."
CURRENCY_LOWER = "ISO 4217 currency code, as the amounts beside it."
BPS = "Basis points: 100 is 1 %, 10000 is 100 %."
COUNTRY = "ISO 3166-1 alpha-2 country code, upper case (NL)."
TIMEZONE = "IANA timezone the event is shown in (Europe/Amsterdam)."
NEXT_CURSOR = "Send as `cursor` to read the next page; null on the last page."
QUALITY = "Stream quality: `sd`, `hd` or `uhd`; a tier plays its quality and every lower one."
EXTRAS = "Extra streams of the tier (e.g. `backstage_camera`), lower-case `[a-z0-9_]` names."
IN_VENUE = "True for a seat in the hall (needs a capacity and a hybrid event)."
REWATCH_HOURS = "Hours after the event's end a ticket still plays, within the event's replay_hours."
MAX_DEVICES = "How many devices may play one ticket at the same time."
ON_DEVICE_LIMIT = (
    "What a further device gets past max_devices: `refuse` (403 device_limit) or "
    "`drop_oldest` (the oldest device is stopped with 403 session_replaced)."
)
ATTENDANCE_MODE = "`online` (stream only) or `hybrid` (in the hall and streamed)."
EVENT_STATUS = (
    "`draft` (being set up, not sold), `on_sale` (published, selling), `live` (from "
    "starts_at, or started early), `ended` (from ends_at, or ended early; nothing "
    "changes any more), `cancelled` (everyone is refunded)."
)
ORDER_STATUS = (
    "`pending` (seats held, waiting for payment), `paid`, `expired` (not paid in "
    "time), `failed` (payment failed or was cancelled), `refunded` (all of it), "
    "`partially_refunded` (tickets stay valid), `disputed` (a chargeback is open), "
    "`cancelled` (the event was cancelled and the order refunded)."
)
TICKET_STATUS = (
    "`valid` (plays), `suspended` (a dispute is open), `revoked` (refunded, lost "
    "dispute, cancelled event or revoked by the venue)."
)
