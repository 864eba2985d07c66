"""The console's recording pages: set up a recording with its rights, performers,
offers, rights holders and split rule (with the preview), publish and withdraw; finance
reads, door staff see nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from tests.conftest import RecordingQueue
from tests.factories import ok
from tests.staff.helpers import Admin, admin_signed_in, csrf, member_signed_in, post

FORM = {
    "title": "Bill Evans Trio, live at the Bimhuis",
    "description": "The second set.",
    "recorded_on": "1969-03-12",
    "duration": "1:32:00",
    "kind": "video",
    "source_event_id": "",
    "playback": "https://origin.example.org",
    "quality": "hd",
    "licence": "cc-by-nc-4.0",
    "copyright_holder": "Stichting Jazzarchief",
    "credit_line": "Recorded by the VARA",
    "access_continues": "on",
}
OFFERS = {"rental": "on", "rental.price_amount": "4,99", "rental.vat_rate_bps": "21",
          "rental.start_within_days": "30", "rental.watch_hours": "48", "purchase": "on",
          "purchase.price_amount": "12,99", "purchase.vat_rate_bps": "21"}  # fmt: skip


class Console:
    def __init__(self, client: TestClient, admin: Admin) -> None:
        self.client, self.admin = client, admin
        self.api = {"Authorization": f"Bearer {admin.key}"}

    def post(self, path: str, data: dict[str, str]) -> Any:
        return post(self.client, path, data, token=csrf(self.client, "/console/account"))

    def new_recording(self, **over: str) -> str:
        answer = self.post("/console/recordings", {**FORM, **over})
        assert answer.status_code == 303, answer.text
        found = re.fullmatch(r"/console/recordings/(rec_\w+)\?done=created",
                             answer.headers["location"])  # fmt: skip
        assert found, answer.headers["location"]
        return found.group(1)

    def recording(self, recording_id: str) -> Any:
        return ok(self.client.get(f"/v1/recordings/{recording_id}", headers=self.api))


@pytest.fixture
def console(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> Console:  # fmt: skip
    client.headers["Accept-Language"] = "en"
    return Console(client, admin_signed_in(client, queue, database, settings, clock.now()))


def test_an_admin_sets_up_publishes_and_withdraws_a_recording(console: Console) -> None:
    listing = console.client.get("/console/recordings")
    assert listing.status_code == 200 and "No recordings yet." in listing.text
    assert 'href="/console/recordings"' in listing.text  # the navigation's link
    new = console.client.get("/console/recordings/new")
    assert new.status_code == 200 and 'name="licence"' in new.text
    recording_id = console.new_recording()
    stored = console.recording(recording_id)
    assert stored["duration_seconds"] == 5520 and stored["licence"]["code"] == "cc-by-nc-4.0"
    assert stored["recorded_on"] == "1969-03-12" and stored["access_continues_after_withdrawal"]
    page = f"/console/recordings/{recording_id}"

    answer = console.post(f"{page}/performers", {"new_name": "Bill Evans",
                                                 "new_email": "bill@example.org"})  # fmt: skip
    assert answer.status_code == 303
    [performer_id] = console.recording(recording_id)["performer_ids"]
    assert console.post(f"{page}/offers", OFFERS).status_code == 303
    offers = ok(console.client.get(f"/v1/recordings/{recording_id}/offers", headers=console.api))
    assert [(o["kind"], o["price_amount"], o["vat_rate_bps"]) for o in offers["data"]] == [
        ("rental", 499, 2100), ("purchase", 1299, 2100)]  # fmt: skip
    for name in ("Estate of Scott LaFaro", "Riverside Records"):
        answer = console.post(f"{page}/rights-holders", {"holder_name": name,
                                                         "holder_email": "rights@example.org"})  # fmt: skip
        assert answer.status_code == 303
    holders = ok(console.client.get("/v1/rights-holders", headers=console.api))["data"]
    by_name = {h["name"]: h["id"] for h in holders}
    estate, label = by_name["Estate of Scott LaFaro"], by_name["Riverside Records"]
    split = {f"share.performer.{performer_id}": "50", f"share.rights_holder.{estate}": "30",
             f"share.rights_holder.{label}": "20", "platform_fee": "0"}  # fmt: skip
    assert console.post(f"{page}/split-rule", split).status_code == 303
    rule = ok(console.client.get(f"/v1/recordings/{recording_id}/split-rule",
                                 headers=console.api))  # fmt: skip
    shares = {share["party"]["id"]: share["bps"] for share in rule["shares"]}
    assert shares == {performer_id: 5000, estate: 3000, label: 2000}

    # The preview of a sale of 10,00 at 21 % VAT: 1,74 VAT, 8,26 shared 50/30/20.
    shown = console.client.get(f"{page}?sample=10,00").text
    table = shown.split('id="preview"')[1].split("</table>")[0]
    for words in (
        "€10.00",
        "€1.74",
        "€8.26",
        "Bill Evans (50%)",
        "€4.13",
        "Estate of Scott LaFaro (30%)",
        "€2.48",
        "Riverside Records (20%)",
        "€1.65",
    ):
        assert words in table, words  # fmt: skip
    assert "Everything is in place." in shown

    assert console.post(f"{page}/publish", {}).status_code == 303
    assert console.recording(recording_id)["status"] == "published"
    assert console.client.get(f"/recordings/{recording_id}").status_code == 200
    assert console.post(f"{page}/withdraw", {}).status_code == 303
    assert console.recording(recording_id)["status"] == "withdrawn"
    actions = [e["action"] for e in ok(console.client.get(
        "/v1/audit?limit=100", headers=console.api))["data"]]  # fmt: skip
    assert {"recording.published", "recording.withdrawn", "recording_split.versioned"} <= set(
        actions
    )


def test_the_forms_say_what_is_wrong_beside_the_field(console: Console) -> None:
    bad = console.post("/console/recordings", {**FORM, "duration": "ninety minutes",
                                               "credit_line": ""})  # fmt: skip
    assert bad.status_code == 422
    assert (
        "enter a duration such as 1:32:00"
        in bad.text.split('id="error-recording-duration_seconds"')[1][:200]
    )
    recording_id = console.new_recording()
    page = f"/console/recordings/{recording_id}"
    cheap = console.post(f"{page}/offers", {**OFFERS, "rental.price_amount": "0,10"})
    assert cheap.status_code == 422
    assert "at least €0.50" in cheap.text.split('id="error-offers-rental-price_amount"')[1][:200]
    both = console.post(f"{page}/offers", {**OFFERS, "free": "on"})
    assert "a free recording is not also sold" in both.text.split('id="error-offers-free"')[1][:200]
    missing = console.post(f"{page}/publish", {})
    assert missing.status_code == 422
    assert "Offer the recording: a rental, a purchase, or free." in missing.text
    venue_share = {f"share.venue.{console.admin.venue_id}": "60"}
    short = console.post(f"{page}/split-rule", venue_share)
    assert short.status_code == 422
    assert "the shares add up to 60.00 %, not 100 %" in short.text
    assert ok(console.client.get(f"/v1/recordings/{recording_id}/offers",
                                 headers=console.api))["data"] == []  # fmt: skip


def test_finance_reads_a_recording_but_cannot_publish_and_door_staff_see_nothing(
    console: Console, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> None:  # fmt: skip
    recording_id = console.new_recording()
    assert (
        console.post(f"/console/recordings/{recording_id}/offers", {"free": "on"}).status_code
        == 303
    )
    finance = member_signed_in(console.client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip
    page = finance.get(f"/console/recordings/{recording_id}")
    assert page.status_code == 200
    assert "Free to watch, for everyone." in page.text
    assert "Save the offers" not in page.text and ">Publish</button>" not in page.text
    assert finance.get("/console/recordings").status_code == 200
    token = csrf(finance, "/console/account")
    for action in ("publish", "withdraw", "offers", "split-rule", "rights-holders", ""):
        path = f"/console/recordings/{recording_id}" + (f"/{action}" if action else "")
        answer = post(finance, path, {"free": "on"}, token=token)
        assert answer.status_code == 403, (path, answer.status_code)
    assert post(finance, "/console/recordings", FORM, token=token).status_code == 403
    assert console.recording(recording_id)["status"] == "draft"
    door = member_signed_in(console.client, queue, database, settings, clock.now(),
                            "dora@example.org", "door", address="198.51.100.8")  # fmt: skip
    for path in ("/console/recordings", f"/console/recordings/{recording_id}",
                 "/console/recordings/new"):  # fmt: skip
        assert door.get(path, follow_redirects=False).status_code == 403, path
