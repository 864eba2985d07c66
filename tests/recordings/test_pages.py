"""The archive's pages and open data: /archive, /recordings/{id}, the JSON-LD and the
Atom feed, showing only published recordings of the right venue."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from starlette.testclient import TestClient

from streamsvc.kit.clock import FixedClock
from tests.factories import make_performer, make_venue, ok
from tests.recordings.helpers import make_recording, published_recording

ATOM = "{http://www.w3.org/2005/Atom}"
_JSONLD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _jsonld(page: str) -> Any:
    match = _JSONLD.search(page)
    assert match, page[:1000]
    return json.loads(match.group(1))


def test_the_recording_page_shows_the_licence_credits_and_offers(client: TestClient) -> None:
    venue = make_venue(client)
    singer = make_performer(client, venue, "Bill Evans")
    recording = published_recording(client, venue, performer_ids=[singer["id"]])
    page = client.get(f"/recordings/{recording['id']}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.text
    assert ('<a href="https://creativecommons.org/licenses/by-sa/4.0/" rel="license">'
            "CC BY-SA 4.0: Attribution-ShareAlike 4.0 International</a>") in text  # fmt: skip
    assert "Recorded by the VARA; restored by Stichting Jazzarchief" in text
    assert "© Stichting Jazzarchief" in text and "Bill Evans" in text
    assert '<dd id="duration">1 hour, 32 minutes</dd>' in text
    assert "Start within 30 days, then watch for 48 hours." in text
    assert "€4.99" in text and "€12.99" in text
    assert "Watch for as long as the archive exists." in text
    # Each offer is bought from its own form (tests/recordings/test_buying.py), and
    # nothing of the venue's own is shown.
    offers = text.split('id="offers"')[1].split("</ul>")[0]
    assert offers.count("<form ") == 2 and "On sale soon" not in offers
    assert "origin.example.org" not in text and "example.org" not in text.replace(
        "creativecommons.org", "")  # fmt: skip
    dutch = client.get(f"/recordings/{recording['id']}", headers={"Accept-Language": "nl"}).text
    assert '<dd id="duration">1 uur en 32 minuten</dd>' in dutch
    assert "€ 4,99" in dutch


def test_the_jsonld_carries_licence_rights_offers_and_duration(client: TestClient) -> None:
    venue = make_venue(client)
    recording = published_recording(client, venue)
    found = _jsonld(client.get(f"/recordings/{recording['id']}").text)
    assert found["@type"] == "VideoObject"
    assert found["license"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert found["copyrightHolder"] == "Stichting Jazzarchief"
    assert found["creditText"] == "Recorded by the VARA; restored by Stichting Jazzarchief"
    assert found["duration"] == "PT1H32M"
    assert found["dateCreated"] == "1969-03-12"
    assert datetime.fromisoformat(found["uploadDate"]) == datetime.fromisoformat(
        recording["published_at"])  # fmt: skip
    offers = {offer["category"]: offer for offer in found["offers"]}
    assert offers["rental"]["price"] == "4.99" and offers["rental"]["priceCurrency"] == "EUR"
    assert offers["rental"]["eligibleDuration"]["value"] == 48
    assert offers["purchase"]["price"] == "12.99"
    # The API gives the same document.
    api = client.get(f"/v1/public/recordings/{recording['id']}",
                     headers={"Accept": "application/ld+json"})  # fmt: skip
    assert api.headers["content-type"].startswith("application/ld+json")
    assert api.json() == found


def test_an_audio_recording_all_rights_reserved_is_a_music_recording_without_licence(
    client: TestClient,
) -> None:
    venue = make_venue(client)
    singer = make_performer(client, venue, "Chet Baker")
    recording = published_recording(client, venue, free=True, kind="audio",
                                    licence="all-rights-reserved", duration_seconds=2745,
                                    performer_ids=[singer["id"]])  # fmt: skip
    page = client.get(f"/recordings/{recording['id']}", headers={"Accept-Language": "en"})
    found = _jsonld(page.text)
    assert found["@type"] == "MusicRecording" and "license" not in found
    assert found["byArtist"] == [{"@type": "Person", "name": "Chet Baker"}]
    assert found["duration"] == "PT45M45S"
    assert found["offers"] == [{"@type": "Offer", "url": found["url"], "category": "free",
                                "price": "0.00", "priceCurrency": "EUR",
                                "availability": "https://schema.org/InStock"}]  # fmt: skip
    assert '<dd id="licence">All rights reserved</dd>' in page.text
    assert "Free to watch, for everyone." in page.text


def test_drafts_withdrawn_and_suspended_venues_have_no_page(client: TestClient) -> None:
    venue = make_venue(client)
    draft = make_recording(client, venue)
    withdrawn = published_recording(client, venue)
    ok(client.post(f"/v1/recordings/{withdrawn['id']}/withdraw", headers=venue.headers))
    for recording_id in (draft["id"], withdrawn["id"], "rec_unknown", "a%2Fb"):
        page = client.get(f"/recordings/{recording_id}", headers={"Accept": "text/html"})
        assert page.status_code == 404, recording_id
    listed = client.get("/archive").text
    assert draft["id"] not in listed and withdrawn["id"] not in listed


def test_the_archive_lists_newest_first_and_filters_by_venue_and_licence(
    client: TestClient, clock: FixedClock
) -> None:
    a, b = make_venue(client, "Bimhuis"), make_venue(client, "Concertgebouw")
    first = published_recording(client, a, title="First set")
    clock.advance(hours=2)
    second = published_recording(client, b, free=True, title="Second set", licence="cc0-1.0")
    make_recording(client, a, title="Not yet public")
    page = client.get("/archive", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.text
    assert text.index("Second set") < text.index("First set")
    assert "Not yet public" not in text
    assert 'href="/archive/feed.atom"' in text
    only_a = client.get(f"/archive?venue={a.id}").text
    assert "First set" in only_a and "Second set" not in only_a
    cc0 = client.get("/archive?licence=cc0-1.0").text
    assert "Second set" in cc0 and "First set" not in cc0
    nothing = client.get(
        f"/archive?venue={a.id}&licence=cc0-1.0", headers={"Accept-Language": "en"}
    )
    assert 'id="no-match"' in nothing.text
    wrong = client.get("/archive?licence=gpl-3.0", headers={"Accept-Language": "en"})
    assert wrong.status_code == 422
    assert "choose a licence from the list" in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    stale = client.get("/archive?cursor=not-ours", headers={"Accept-Language": "en"})
    assert stale.status_code == 422 and "This link is out of date" in stale.text
    assert first["id"] in text and second["id"] in text


def test_the_atom_feed_parses_and_lists_the_newest_first(
    client: TestClient, clock: FixedClock
) -> None:
    venue = make_venue(client)
    older = published_recording(client, venue, title="Older", description="Old\x01 tapes")
    clock.advance(days=1)
    newer = published_recording(client, venue, title="Newer & <better>", licence="pdm-1.0")
    make_recording(client, venue, title="Draft")
    answer = client.get("/archive/feed.atom")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    assert _RFC3339.match(feed.findtext(f"{ATOM}updated") or "")
    assert (feed.findtext(f"{ATOM}id") or "").startswith("tag:")
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == ["Newer & <better>", "Older"]
    for entry, recording in zip(entries, (newer, older), strict=True):
        entry_id = entry.findtext(f"{ATOM}id") or ""
        assert re.fullmatch(rf"tag:[a-z0-9.-]+,\d{{4}}-\d\d-\d\d:recording/{recording['id']}",
                            entry_id), entry_id  # fmt: skip
        for name in ("updated", "published"):
            assert _RFC3339.match(entry.findtext(f"{ATOM}{name}") or ""), name
        links = {link.get("rel"): link.get("href") for link in entry.findall(f"{ATOM}link")}
        assert (links["alternate"] or "").endswith(f"/recordings/{recording['id']}")
    licences = [{link.get("rel"): link.get("href") for link in e.findall(f"{ATOM}link")}
                ["license"] for e in entries]  # fmt: skip
    assert licences == ["https://creativecommons.org/publicdomain/mark/1.0/",
                        "https://creativecommons.org/licenses/by-sa/4.0/"]  # fmt: skip
    assert entries[1].findtext(f"{ATOM}summary") == "Old tapes"
