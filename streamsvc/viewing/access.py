"""Who may watch what, and when: windows, countries, qualities, the origin's URL layout.

The origin (or CDN) serves each event under exactly

    /{prefix}/{event id}/{rendition}/{file}     e.g. /live/evt_…/hd/seg_00042.ts
    /{prefix}/{event id}/{playlist}             a master playlist (.m3u8, .mpd)

and a rendition is, in lower case and by known names only:

- a quality, `sd`, `hd` or `uhd`, that the tier includes (`hd` includes `sd`; `uhd`
  both);
- a subtitle track `subs-{language}`, an ISO 639-1 code (`subs-nl`): every tier;
- an extra of the tier at one of its qualities, `{extra}-{quality}`, the extra named
  exactly as in the tier's `access.extras` (`backstage_camera-hd`).

A URI is judged as the media server serves it: percent-decoded once, `.` and `..`
resolved, slashes merged (nginx's `$uri`). The decoded path must hold nothing but
`A-Z a-z 0-9 . _ - /`, so NUL and control characters, `;` parameters, backslashes,
a `%` left after decoding (double encoding) and a path that climbs above the root are
refused; so is a directory, a segment too many or too few, and a name that starts
with a dot. The event id must equal the token's. SRS and OvenMediaEngine name the
stream by app = event id and stream = rendition; there nothing is normalised, the
names must be exact.

A recording (recordings/models.py) is served the same way under the prefix `vod` and
its id, `/vod/{recording id}/{quality}/{file}`: its token plays that prefix alone, in
the qualities up to the recording's, and no media server's app/stream.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

from streamsvc.recordings.models import MEDIA_PREFIX

QUALITY_LADDER = ("sd", "hd", "uhd")
SUBTITLES = "subs-"
# ISO 639-1, the two-letter language codes.
LANGUAGES = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu"
    " cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he"
    " hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko"
    " kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd"
    " ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se"
    " sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty"
    " ug uk ur uz ve vi vo wa wo xh yi yo za zh zu".split()
)
MAX_PATH_LENGTH = 1024

_NAME = r"[A-Za-z0-9_-]+"
_FILE = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}"
# The whole layout at once: prefix, event, rendition (absent for a master playlist),
# file. No segment may start with a dot, so `.` and `..` never match.
_LAYOUT = re.compile(rf"/([a-z0-9][a-z0-9_-]*)/({_NAME})/(?:({_NAME})/)?({_FILE})")
_APP_STREAM = re.compile(rf"/({_NAME})/({_NAME})(?:/{_FILE})?")
_PLAYLIST = re.compile(r".+\.(?:m3u8|mpd)")
_EXTRA = re.compile(r"[a-z0-9_]{1,40}")  # as the catalogue names extras
_STREAM_NAME = re.compile(_NAME)
_DECODED = re.compile(r"[A-Za-z0-9._/-]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


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


def normalised(path: str) -> str | None:
    """The path nginx serves for this one (its `$uri`), or None when it is refused.

    Percent-decoded once, `.` and `..` resolved, slashes merged; None when an escape
    is broken, a character falls outside `A-Za-z0-9._/-` once decoded, the path
    climbs above the root or names a directory.
    """
    if len(path) > MAX_PATH_LENGTH or _BAD_ESCAPE.search(path):
        return None
    if "%" in path:
        decoded = unquote_to_bytes(path)
        path = decoded.decode("ascii") if decoded.isascii() else ""
    if not path.startswith("/") or not _DECODED.fullmatch(path):
        return None
    segments: list[str] = []
    parts = path.split("/")
    for segment in parts:
        if segment == "..":
            if not segments:
                return None  # above the root: nginx answers 400
            segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    if parts[-1] in ("", ".", ".."):
        return None  # a directory
    return "/" + "/".join(segments)


def rendition_refusal(
    rendition: str, qualities: tuple[str, ...], extras: tuple[str, ...]
) -> str | None:
    """Why this tier may not play this rendition (a code), or None when it may."""
    if rendition in QUALITY_LADDER:
        return None if rendition in qualities else "quality_not_in_tier"
    if rendition.startswith(SUBTITLES):
        return None if rendition[len(SUBTITLES) :] in LANGUAGES else "unknown_rendition"
    extra, dash, quality = rendition.rpartition("-")
    if not dash or quality not in QUALITY_LADDER or not _EXTRA.fullmatch(extra):
        return "unknown_rendition"
    if extra not in extras:
        return "extra_not_in_tier"
    return None if quality in qualities else "quality_not_in_tier"


def uri_refusal(
    path: str, event_id: str, qualities: tuple[str, ...], extras: tuple[str, ...],
    prefix: str | None = None,
) -> str | None:  # fmt: skip
    """Why this URI path (as the viewer sent it, or nginx's `$uri`) is not for this
    token (a code), or None when it is; with `prefix`, only under that one."""
    layout = _LAYOUT.fullmatch(path)  # the common case: already in normal form
    if layout is None:
        canonical = normalised(path)
        layout = _LAYOUT.fullmatch(canonical) if canonical is not None else None
        if layout is None:
            return "not_a_stream_uri"
    served_under, event, rendition, file = layout.groups()
    if prefix is not None and served_under != prefix:
        return "not_a_stream_uri"
    if event != event_id:
        return "wrong_event"
    if rendition is None:
        return None if _PLAYLIST.fullmatch(file) else "not_a_stream_uri"
    return rendition_refusal(rendition, qualities, extras)


# An event's words for what a recording's token asks for: there is no tier.
_RECORDING_CODES = {
    "wrong_event": "wrong_recording",
    "quality_not_in_tier": "quality_not_available",
}


def recording_refusal(path: str, recording_id: str, qualities: tuple[str, ...]) -> str | None:
    """`uri_refusal` for a recording's token: /vod/{recording id}/…, no extras."""
    refusal = uri_refusal(path, recording_id, qualities, (), prefix=MEDIA_PREFIX)
    return _RECORDING_CODES.get(refusal, refusal) if refusal is not None else None


def stream_refusal(
    app: str, stream: str, event_id: str, qualities: tuple[str, ...], extras: tuple[str, ...]
) -> str | None:
    """`uri_refusal` for a media server's app (the event id) and stream (the rendition),
    taken exactly as given: nothing is decoded or resolved."""
    if not _STREAM_NAME.fullmatch(app) or not _STREAM_NAME.fullmatch(stream):
        return "not_a_stream_uri"
    if app != event_id:
        return "wrong_event"
    return rendition_refusal(stream, qualities, extras)


def app_and_stream(path: str) -> tuple[str, str]:
    """(app, stream) of a path `/{app}/{stream}` or `/{app}/{stream}/{file}`, exactly as
    OvenMediaEngine's playback URLs are; ("", ""), which is refused, for anything else."""
    found = _APP_STREAM.fullmatch(path)
    return (found[1], found[2]) if found else ("", "")


def split_uri(uri: str) -> tuple[str, str | None]:
    """(path, token from the query string if any) of a request target: split at its
    first `?`, nothing else (`//x/…` is a path, as the media server reads it)."""
    path, _, query = uri.partition("?")
    return path, _query_token(query)


def split_url(url: str) -> tuple[str, str | None]:
    """(path, token from the query string if any) of a full URL, as OME sends them."""
    parts = urlsplit(url)
    return parts.path, _query_token(parts.query)


def _query_token(query: str) -> str | None:
    tokens = parse_qs(query).get("token") if query else None
    return tokens[0] if tokens else None
