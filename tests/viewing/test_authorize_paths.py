"""Authorize judges the URI the media server serves, not the one the viewer typed: it is
decoded and normalised as nginx does for `$uri`, must then be exactly
`/{prefix}/{event}/{rendition}/{file}` (or a master playlist under the event), and
names only the token's event and renditions its tier includes. Everything else is a
403, whatever trick dresses it up. The same for the SRS and OvenMediaEngine hooks.

Tokens are signed here with the configured key for made-up events, over sessions
started in the real Redis: authorize reads nothing else. The last test redeems a real
ticket whose tier has an extra, so the catalogue's names reach the token as stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.kit.clock import FixedClock
from streamsvc.viewing.store import ViewingStore
from streamsvc.viewing.tokens import Claims, signer_from_settings
from tests.conftest import RecordingQueue
from tests.factories import make_tier
from tests.viewing.conftest import Show

A = "evt_aaaaaaaaaaaaaaaaaaaa"  # the tokens' event
B = "evt_bbbbbbbbbbbbbbbbbbbb"  # another event
AUTHORIZE = "/v1/viewing/authorize"
SRS = "/v1/viewing/hooks/srs"
OME = "/v1/viewing/hooks/ome"

# What each kind of token was issued for (as a tier's access would give it).
ACCESS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sd": (("sd",), ()),
    "hd": (("sd", "hd"), ("backstage",)),  # an hd tier with a backstage camera
    "uhd": (("sd", "hd", "uhd"), ()),
}


@pytest.fixture
def tokens(client: TestClient, settings: Settings, clock: FixedClock) -> dict[str, str]:
    """An active session and its token for event A, for each kind in ACCESS."""

    async def start() -> dict[str, str]:
        redis_client = aioredis.Redis.from_url(settings.require("redis_url"))
        store = ViewingStore(redis_client, settings.viewing_session_idle_seconds)
        now_ms = int(clock.now().timestamp() * 1000)
        sessions = {
            kind: (await store.start_session(f"tkt_{kind}", "tv", f"ses_{kind}", now_ms=now_ms,
                                             max_devices=1, policy="refuse")).session_id
            for kind in ACCESS
        }  # fmt: skip
        await redis_client.aclose()
        return sessions

    sessions = asyncio.run(start())
    signer, now = signer_from_settings(settings), int(clock.now().timestamp())
    expires = now + settings.viewing_token_ttl_seconds
    claims = {
        kind: Claims(sessions[kind], f"tkt_{kind}", A, qualities, extras, now, expires)
        for kind, (qualities, extras) in ACCESS.items()
    }
    return {kind: signer.sign(claim) for kind, claim in claims.items()}


def _authorize(client: TestClient, uri: str | None, token: str | None) -> tuple[int, str | None]:
    headers = {} if uri is None else {"X-Original-URI": uri}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    answer = client.get(AUTHORIZE, headers=headers)
    return answer.status_code, (answer.json()["error"]["code"] if answer.content else None)


ALLOWED = (204, None)
NOT_A_STREAM = (403, "not_a_stream_uri")
WRONG_EVENT = (403, "wrong_event")
NOT_IN_TIER = (403, "quality_not_in_tier")
UNKNOWN = (403, "unknown_rendition")
NO_EXTRA = (403, "extra_not_in_tier")

# (what it tries, the X-Original-URI, the token's kind, the answer)
PATHS = [
    # What players ask for.
    ("own quality playlist", f"/live/{A}/sd/index.m3u8", "sd", ALLOWED),
    ("own quality segment", f"/live/{A}/sd/seg_00042.ts", "sd", ALLOWED),
    ("a lower quality", f"/live/{A}/sd/index.m3u8", "hd", ALLOWED),
    ("the top quality", f"/live/{A}/uhd/init.mp4", "uhd", ALLOWED),
    ("master playlist", f"/live/{A}/index.m3u8", "sd", ALLOWED),
    ("DASH manifest", f"/live/{A}/manifest.mpd", "sd", ALLOWED),
    ("another prefix", f"/vod/{A}/sd/index.m3u8", "sd", ALLOWED),
    ("subtitles, Dutch", f"/live/{A}/subs-nl/index.m3u8", "sd", ALLOWED),
    ("subtitles, English", f"/live/{A}/subs-en/seg_1.vtt", "hd", ALLOWED),
    ("extra of the tier", f"/live/{A}/backstage-hd/index.m3u8", "hd", ALLOWED),
    ("extra, lower quality", f"/live/{A}/backstage-sd/seg_1.ts", "hd", ALLOWED),
    # Normalised as nginx serves it: what it lands on is judged, here the own stream.
    ("slashes merged", f"/live//{A}///sd/seg_1.ts", "sd", ALLOWED),
    ("./ resolved", f"/live/{A}/./sd/seg_1.ts", "sd", ALLOWED),
    ("../ back to own", f"/live/{B}/../{A}/sd/seg_1.ts", "sd", ALLOWED),
    ("letters encoded", f"/live/{A}/%73%64/seg_1.ts", "sd", ALLOWED),
    # Traversal into another event's top quality.
    ("../ to other event", f"/live/{A}/../{B}/uhd/seg_1.ts", "sd", WRONG_EVENT),
    ("../../ from rendition", f"/live/{A}/sd/../../{B}/uhd/seg_1.ts", "sd", WRONG_EVENT),
    ("%2e%2e", f"/live/{A}/%2e%2e/{B}/uhd/seg_1.ts", "sd", WRONG_EVENT),
    ("%2E%2E", f"/live/{A}/%2E%2E/{B}/uhd/seg_1.ts", "sd", WRONG_EVENT),
    ("half encoded .%2e", f"/live/{A}/.%2e/{B}/uhd/seg_1.ts", "sd", WRONG_EVENT),
    ("encoded slash", f"/live/{A}/%2e%2e%2f{B}/uhd/seg_1.ts", "sd", WRONG_EVENT),
    ("double encoded", f"/live/{A}/%252e%252e/{B}/uhd/seg_1.ts", "sd", NOT_A_STREAM),
    ("double encoded slash", f"/live/{A}/sd%252f..%252f..%252f{B}/x.ts", "sd", NOT_A_STREAM),
    ("above the root", "/live/../../etc/passwd", "sd", NOT_A_STREAM),
    ("above, encoded", f"/%2e%2e/live/{A}/sd/seg_1.ts", "sd", NOT_A_STREAM),
    ("backslashes", f"/live/{A}/sd\\..\\..\\{B}\\uhd\\seg_1.ts", "sd", NOT_A_STREAM),
    ("encoded backslash", f"/live/{A}/sd/..%5c..%5c{B}/uhd/seg_1.ts", "sd", NOT_A_STREAM),
    # Dressing up a higher quality of the own event.
    ("./ before a quality", f"/live/{A}/./uhd/seg_1.ts", "sd", NOT_IN_TIER),
    ("../ after a quality", f"/live/{A}/sd/../uhd/seg_1.ts", "sd", NOT_IN_TIER),
    ("encoded quality", f"/live/{A}/%75hd/seg_1.ts", "sd", NOT_IN_TIER),
    ("encoded, upper hex", f"/live/{A}/%68%44/seg_1.ts", "hd", UNKNOWN),
    ("upper case", f"/live/{A}/HD/seg_1.ts", "hd", UNKNOWN),
    ("mixed case", f"/live/{A}/Sd/seg_1.ts", "sd", UNKNOWN),
    ("upper-case prefix", f"/LIVE/{A}/sd/seg_1.ts", "sd", NOT_A_STREAM),
    ("upper-case event", f"/live/{A.upper()}/sd/seg_1.ts", "sd", WRONG_EVENT),
    ("higher quality", f"/live/{A}/hd/index.m3u8", "sd", NOT_IN_TIER),
    ("top quality", f"/live/{A}/uhd/index.m3u8", "hd", NOT_IN_TIER),
    # Parameters, NUL, control characters and other characters outside the layout.
    (";params on rendition", f"/live/{A}/sd;v=1/seg_1.ts", "sd", NOT_A_STREAM),
    (";params on event", f"/live/{A};x/sd/seg_1.ts", "sd", NOT_A_STREAM),
    (";params on file", f"/live/{A}/sd/seg_1.ts;jsessionid=1", "sd", NOT_A_STREAM),
    ("encoded ;", f"/live/{A}/sd%3b/seg_1.ts", "sd", NOT_A_STREAM),
    ("NUL", f"/live/{A}/sd/seg_1.ts%00.m3u8", "sd", NOT_A_STREAM),
    ("NUL in rendition", f"/live/{A}/sd%00/seg_1.ts", "sd", NOT_A_STREAM),
    ("CR LF", f"/live/{A}/sd/seg_1.ts%0d%0aX-Viewing-Token:%20x", "sd", NOT_A_STREAM),
    ("tab", f"/live/{A}/sd/seg%091.ts", "sd", NOT_A_STREAM),
    ("space", f"/live/{A}/sd/seg%201.ts", "sd", NOT_A_STREAM),
    ("encoded ?", f"/live/{A}/sd/seg_1.ts%3ftoken=x", "sd", NOT_A_STREAM),
    ("non-ASCII", f"/live/{A}/sd/s%C3%A9g.ts", "sd", NOT_A_STREAM),
    ("broken escape", f"/live/{A}/sd/seg_%zz.ts", "sd", NOT_A_STREAM),
    ("dot file", f"/live/{A}/sd/.htaccess", "sd", NOT_A_STREAM),
    ("three dots", f"/live/{A}/sd/...", "sd", NOT_A_STREAM),
    ("tilde", f"/live/{A}/sd/~seg.ts", "sd", NOT_A_STREAM),
    # Segments too many or too few.
    ("extra segment", f"/live/{A}/sd/more/seg_1.ts", "sd", NOT_A_STREAM),
    ("event deeper down", f"/live/{B}/uhd/{A}/sd/seg_1.ts", "sd", NOT_A_STREAM),
    ("two-segment prefix", f"/cdn/live/{A}/sd/seg_1.ts", "sd", NOT_A_STREAM),
    ("no prefix", f"/{A}/sd/seg_1.ts", "sd", WRONG_EVENT),
    ("no file", f"/live/{A}/sd", "sd", NOT_A_STREAM),
    ("a directory", f"/live/{A}/sd/", "sd", NOT_A_STREAM),
    ("directory by ..", f"/live/{A}/sd/seg_1.ts/..", "sd", NOT_A_STREAM),
    ("directory by .", f"/live/{A}/sd/.", "sd", NOT_A_STREAM),
    ("the event only", f"/live/{A}", "sd", NOT_A_STREAM),
    ("the event dir", f"/live/{A}/", "sd", NOT_A_STREAM),
    ("segment under event", f"/live/{A}/seg_1.ts", "sd", NOT_A_STREAM),
    ("root", "/", "sd", NOT_A_STREAM),
    ("empty", "", "sd", NOT_A_STREAM),
    ("a full URL", f"https://cdn.example/live/{A}/sd/seg_1.ts", "sd", NOT_A_STREAM),
    ("too long", f"/live/{A}/sd/{'a' * 1100}.ts", "sd", NOT_A_STREAM),
    # Another event.
    ("other event", f"/live/{B}/sd/index.m3u8", "sd", WRONG_EVENT),
    ("other event master", f"/live/{B}/index.m3u8", "sd", WRONG_EVENT),
    ("event id + suffix", f"/live/{A}x/sd/index.m3u8", "sd", WRONG_EVENT),
    ("event id prefix", f"/live/{A[:-1]}/sd/index.m3u8", "sd", WRONG_EVENT),
    ("other event encoded", f"/live/%65vt_{B[4:]}/uhd/seg_1.ts", "sd", WRONG_EVENT),
    # Unknown renditions.
    ("unknown name", f"/live/{A}/4k/index.m3u8", "uhd", UNKNOWN),
    ("audio", f"/live/{A}/audio/index.m3u8", "uhd", UNKNOWN),
    ("quality with dash", f"/live/{A}/-sd/index.m3u8", "sd", UNKNOWN),
    ("quality underscore", f"/live/{A}/sd_/index.m3u8", "sd", UNKNOWN),
    # Subtitle tracks: an ISO 639-1 code, lower case.
    ("subs unknown code", f"/live/{A}/subs-xx/index.m3u8", "sd", UNKNOWN),
    ("subs upper case", f"/live/{A}/subs-NL/index.m3u8", "sd", UNKNOWN),
    ("subs three letters", f"/live/{A}/subs-nld/index.m3u8", "sd", UNKNOWN),
    ("subs no language", f"/live/{A}/subs-/index.m3u8", "sd", UNKNOWN),
    ("subs with quality", f"/live/{A}/subs-nl-hd/index.m3u8", "sd", UNKNOWN),
    ("subs other name", f"/live/{A}/subtitles-nl/index.m3u8", "sd", UNKNOWN),
    # Extras: the tier's own, at a quality it includes.
    ("extra not in tier", f"/live/{A}/backstage-sd/index.m3u8", "sd", NO_EXTRA),
    ("another extra", f"/live/{A}/bonus-hd/index.m3u8", "hd", NO_EXTRA),
    ("extra above tier", f"/live/{A}/backstage-uhd/index.m3u8", "hd", NOT_IN_TIER),
    ("extra upper case", f"/live/{A}/Backstage-hd/index.m3u8", "hd", UNKNOWN),
    ("extra no quality", f"/live/{A}/backstage/index.m3u8", "hd", UNKNOWN),
    ("extra underscore", f"/live/{A}/backstage_hd/index.m3u8", "hd", UNKNOWN),
    ("extra bad quality", f"/live/{A}/backstage-4k/index.m3u8", "hd", UNKNOWN),
    ("extra other event", f"/live/{B}/backstage-hd/index.m3u8", "hd", WRONG_EVENT),
]


@pytest.mark.parametrize(
    ("uri", "kind", "answer"),
    [pytest.param(uri, kind, answer, id=name) for name, uri, kind, answer in PATHS],
)
def test_the_uri_is_judged_as_the_media_server_serves_it(
    client: TestClient, tokens: dict[str, str], uri: str, kind: str, answer: tuple[int, str]
) -> None:
    assert _authorize(client, uri, tokens[kind]) == answer


def test_the_token_may_ride_in_the_uri_or_a_header(
    client: TestClient, tokens: dict[str, str]
) -> None:
    uri = f"/live/{A}/sd/seg_1.ts"
    assert _authorize(client, f"{uri}?token={tokens['sd']}", None) == ALLOWED
    for header in ("Authorization", "X-Viewing-Token"):
        value = f"Bearer {tokens['sd']}" if header == "Authorization" else tokens["sd"]
        assert (
            client.get(AUTHORIZE, headers={"X-Original-URI": uri, header: value}).status_code == 204
        )
    # The query is split off before the path is judged; a token in it does not help.
    assert _authorize(client, f"/live/{A}/uhd/seg_1.ts?token={tokens['uhd']}", tokens["sd"]) == (
        NOT_IN_TIER
    )
    assert _authorize(client, f"/live/{A}/sd/x.ts?a=b", None) == (401, "missing_token")


def test_without_the_uri_only_a_bad_token_is_told_apart(
    client: TestClient, tokens: dict[str, str]
) -> None:
    assert _authorize(client, None, tokens["uhd"]) == (403, "missing_uri")
    assert _authorize(client, None, None) == (401, "missing_token")


def test_a_setting_allows_token_only_checks(
    settings: Settings, clock: FixedClock, tokens: dict[str, str]
) -> None:
    trusting = settings.model_copy(update={"viewing_allow_token_only": True})
    assert Settings.model_fields["viewing_allow_token_only"].default is False
    with TestClient(create_app(trusting, clock, queue=RecordingQueue())) as client:
        assert _authorize(client, None, tokens["sd"]) == ALLOWED
        assert _authorize(client, None, "garbage") == (401, "invalid_token")
        # A URI it is sent is still judged.
        assert _authorize(client, f"/live/{B}/sd/seg_1.ts", tokens["sd"]) == WRONG_EVENT


# SRS names the stream by app and stream, OME by its URL: taken as given, never decoded.
STREAMS = [
    ("own quality", A, "sd", "sd", True),
    ("subtitles", A, "subs-fr", "sd", True),
    ("extra of the tier", A, "backstage-hd", "hd", True),
    ("traversal in app", f"{A}/../{B}", "uhd", "sd", False),
    ("traversal to own", f"{B}/../{A}", "sd", "sd", False),
    ("traversal in stream", A, "../uhd", "sd", False),
    ("dot segment", A, "./sd", "sd", False),
    ("slash in app", f"live/{A}", "sd", "sd", False),
    ("encoded letters", A, "%73d", "sd", False),
    ("encoded dots", f"{A}%2f%2e%2e", "sd", "sd", False),
    ("upper case", A, "SD", "sd", False),
    (";params", A, "sd;v=1", "sd", False),
    ("other event", B, "sd", "sd", False),
    ("higher quality", A, "hd", "sd", False),
    ("unknown rendition", A, "4k", "uhd", False),
    ("subs bad code", A, "subs-xx", "sd", False),
    ("extra not in tier", A, "backstage-sd", "sd", False),
    ("empty", "", "", "sd", False),
]


@pytest.mark.parametrize(
    ("app", "stream", "kind", "allowed"),
    [pytest.param(app, stream, kind, ok, id=name) for name, app, stream, kind, ok in STREAMS],
)
def test_srs_and_ome_name_the_stream_exactly(
    client: TestClient, tokens: dict[str, str], app: str, stream: str, kind: str, allowed: bool
) -> None:
    token = tokens[kind]
    srs = client.post(SRS, json={"action": "on_play", "app": app, "stream": stream,
                                 "param": f"?token={token}"}).json()  # fmt: skip
    assert srs == ({"code": 0} if allowed else {"code": 403})
    for url in (f"wss://edge.example/{app}/{stream}?token={token}",
                f"https://edge.example/{app}/{stream}/llhls.m3u8?token={token}"):  # fmt: skip
        ome = client.post(OME, json={"request": {"direction": "outgoing", "status": "opening",
                                                 "url": url}}).json()  # fmt: skip
        assert ome["allowed"] is allowed, (url, ome)


def test_ome_refuses_a_url_off_the_layout(client: TestClient, tokens: dict[str, str]) -> None:
    token = tokens["uhd"]
    for path in (f"/{A}", f"/{A}/sd/x/y", f"/x/{A}/sd/y.m3u8", f"/{A}//sd", f"/{A}/sd/"):
        ome = client.post(OME, json={"request": {
            "direction": "outgoing", "url": f"wss://edge.example{path}?token={token}"}}).json()  # fmt: skip
        assert ome == {"allowed": False, "reason": "not_a_stream_uri"}, path


@dataclass
class Extras:
    show: Show
    token: str


@pytest.fixture
def backstage(show: Show) -> Iterator[Extras]:
    """A redeemed ticket of an hd tier with an extra named as the catalogue stores it."""
    tier = make_tier(show.client, show.venue, show.event["id"], name="HD and backstage",
                     access={"quality": "hd", "extras": ["backstage_camera"]})  # fmt: skip
    show.tiers["backstage"] = tier
    _, [code] = show.paid_tickets("backstage")
    show.clock.at = datetime.fromisoformat(show.event["starts_at"]) - timedelta(minutes=30)
    started: Any = show.redeem(code, "tv")
    assert started.status_code == 201, started.text
    yield Extras(show, started.json()["token"])


def test_a_tiers_extra_plays_under_its_stored_name(backstage: Extras) -> None:
    client, event = backstage.show.client, backstage.show.event["id"]
    for rendition, answer in (("backstage_camera-hd", ALLOWED), ("backstage_camera-sd", ALLOWED),
                              ("backstage_camera-uhd", NOT_IN_TIER),
                              ("backstage-camera-hd", UNKNOWN), ("subs-de", ALLOWED)):  # fmt: skip
        got = _authorize(client, f"/live/{event}/{rendition}/index.m3u8", backstage.token)
        assert got == answer, rendition
