"""Who may watch what, and when: windows, countries, qualities, the origin's URL layout.

The origin (or CDN) serves each event's renditions under

    <playback origin>/<event id>/<quality>/<playlist or segment>

for example `/live/evt_…/hd/index.m3u8` and `/live/evt_…/hd/seg_00042.ts`. A URI
must name the token's event; a quality segment right after it must be one the tier
includes (an `hd` tier includes `sd`; `uhd` includes both). A master playlist
directly under the event (`/live/evt_…/index.m3u8`) is allowed to every quality.
SRS and OvenMediaEngine use app = event id and stream = quality.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

QUALITY_LADDER = ("sd", "hd", "uhd")


def qualities_for(tier_quality: str) -> tuple[str, ...]:
    """The renditions a tier may watch: its own and every lower one."""
    return QUALITY_LADDER[: QUALITY_LADDER.index(tier_quality) + 1]


def window(starts_at: datetime, ends_at: datetime, doors_open_minutes: int,
           rewatch_hours: int) -> tuple[datetime, datetime]:  # fmt: skip
    """From doors-open to the end of the rewatch window (0 hours: live only)."""
    return (
        starts_at - timedelta(minutes=doors_open_minutes),
        ends_at + timedelta(hours=rewatch_hours),
    )


def uri_refusal(path: str, event_id: str, qualities: tuple[str, ...]) -> str | None:
    """Why this URI path is not for this token (a code), or None when it is."""
    segments = [s for s in path.split("/") if s]
    if event_id not in segments:
        return "wrong_event"
    after = segments.index(event_id) + 1
    quality = segments[after] if after < len(segments) else None
    if quality in QUALITY_LADDER and quality not in qualities:
        return "quality_not_in_tier"
    return None


def split_uri(uri: str) -> tuple[str, str | None]:
    """(path, token from the query string if any) of an original request URI."""
    parts = urlsplit(uri)
    tokens = parse_qs(parts.query).get("token")
    return parts.path, (tokens[0] if tokens else None)
