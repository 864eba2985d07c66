"""The console's event pages over HTTP: set-up forms, money input, roles, CSRF, the
split preview, publishing, the overview and cancelling."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.finance.waterfall import OrderMoney, waterfall
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation
from tests.conftest import RecordingQueue
from tests.factories import VenueHandle, buy, make_performer, make_tier, ok
from tests.orders import scenarios as s
from tests.staff.helpers import Admin, admin_signed_in, csrf, member_signed_in, post

EVENT_FORM = {
    "title": "La Traviata",
    "description": "Verdi, live.",
    "starts_at": "2027-01-15T20:00",
    "ends_at": "2027-01-15T23:00",
    "attendance_mode": "hybrid",
    "doors_open_minutes": "30",
    "replay_hours": "48",
    "allowed_countries": "nl, BE",
    "playback": "https://origin.example.org/live",
}
TIER_FORM = {"name": "Stream HD", "price_amount": "15,00", "vat_rate": "21", "capacity": "",
             "quality": "hd", "extras": "backstage_camera", "max_devices": "2"}  # fmt: skip


class Console:
    """A signed-in admin's browser and the venue's API key, for checking what was stored."""

    def __init__(self, client: TestClient, admin: Admin) -> None:
        self.client, self.admin = client, admin
        self.api = {"Authorization": f"Bearer {admin.key}"}

    def post(self, path: str, data: dict[str, str], page: str | None = None) -> Any:
        return post(self.client, path, data, token=csrf(self.client, page or "/console/account"))

    def new_event(self, **over: str) -> str:
        answer = self.post("/console/events", {**EVENT_FORM, **over}, "/console/events/new")
        assert answer.status_code == 303, answer.text
        found = re.fullmatch(r"/console/events/(evt_\w+)\?done=created", answer.headers["location"])
        assert found, answer.headers["location"]
        return found.group(1)

    def event(self, event_id: str) -> Any:
        return ok(self.client.get(f"/v1/events/{event_id}", headers=self.api))

    def tiers(self, event_id: str) -> list[Any]:
        found: list[Any] = ok(self.client.get(f"/v1/events/{event_id}/tiers", headers=self.api))[
            "data"
        ]
        return found


@pytest.fixture
def console(
    client: TestClient, queue: RecordingQueue, database: Database, settings: Settings,
    clock: FixedClock,
) -> Console:  # fmt: skip
    clock.at = datetime(2026, 12, 1, 12, 0, tzinfo=clock.at.tzinfo)
    return Console(client, admin_signed_in(client, queue, database, settings, clock.now()))


def test_the_new_event_form_converts_the_venues_local_times_to_utc(console: Console) -> None:
    page = console.client.get("/console/events/new")
    assert page.status_code == 200
    assert 'type="datetime-local"' in page.text and "Europe/Amsterdam" in page.text

    event = console.event(console.new_event())

    # 20:00 in Amsterdam in January (CET, UTC+1) is 19:00 UTC.
    assert datetime.fromisoformat(event["starts_at"]) == datetime.fromisoformat(
        "2027-01-15T19:00:00+00:00"
    )
    assert event["allowed_countries"] == ["BE", "NL"]
    assert (event["status"], event["timezone"]) == ("draft", "Europe/Amsterdam")


def test_a_refused_event_form_says_why_beside_the_field(console: Console) -> None:
    answer = console.post("/console/events", {**EVENT_FORM, "starts_at": "tomorrow"},
                          "/console/events/new")  # fmt: skip
    assert answer.status_code == 422
    assert re.search(r'id="error-event-starts_at"[^>]*>enter a date and time<', answer.text)
    assert 'value="La Traviata"' in answer.text  # what was typed stays


@pytest.mark.parametrize(("typed", "minor"), [("15,00", 1500), ("15.00", 1500), ("15", 1500),
                                               ("15,5", 1550), (" 1234.56 ", 123456)])  # fmt: skip
def test_prices_typed_by_a_human_become_exact_minor_units(
    console: Console, typed: str, minor: int
) -> None:
    event_id = console.new_event()
    answer = console.post(f"/console/events/{event_id}/tiers",
                          {**TIER_FORM, "price_amount": typed})  # fmt: skip
    assert answer.status_code == 303, answer.text
    [tier] = console.tiers(event_id)
    assert (tier["price_amount"], tier["access"]["quality"]) == (minor, "hd")
    assert tier["access"]["extras"] == ["backstage_camera"]


@pytest.mark.parametrize(("typed", "words"), [
    ("15,001", "too many decimals for this currency"),
    ("15.001", "too many decimals for this currency"),
    ("fifteen", "enter an amount such as 15,00"),
    ("15,00 EUR", "enter an amount such as 15,00"),
    ("1.000,00", "enter an amount such as 15,00"),
    ("", "enter an amount such as 15,00"),
])  # fmt: skip
def test_prices_that_are_not_amounts_are_refused_beside_the_field(
    console: Console, typed: str, words: str
) -> None:
    event_id = console.new_event()
    answer = console.post(f"/console/events/{event_id}/tiers",
                          {**TIER_FORM, "price_amount": typed})  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert re.search(rf'id="error-tier-new-price_amount"[^>]*>{re.escape(words)}<', answer.text)
    assert 'aria-invalid="true"' in answer.text
    assert console.tiers(event_id) == []


def test_a_seat_tier_and_a_tier_edit(console: Console) -> None:
    event_id = console.new_event()
    seat = {**TIER_FORM, "name": "Seat", "price_amount": "45.00", "capacity": "120",
            "in_venue": "on", "quality": "sd"}  # fmt: skip
    assert console.post(f"/console/events/{event_id}/tiers", seat).status_code == 303
    [tier] = console.tiers(event_id)
    assert (tier["capacity"], tier["access"]["in_venue"], tier["price_amount"]) == (120, True, 4500)

    changed = {**seat, "price_amount": "50", "capacity": "150"}
    answer = console.post(f"/console/events/{event_id}/tiers/{tier['id']}", changed)
    assert answer.status_code == 303, answer.text
    [tier] = console.tiers(event_id)
    assert (tier["capacity"], tier["price_amount"]) == (150, 5000)


def _set_up(console: Console, client: TestClient) -> tuple[str, list[str]]:
    """An event with an HD tier and three performers (one added on the page)."""
    event_id = console.new_event()
    assert console.post(f"/console/events/{event_id}/tiers", TIER_FORM).status_code == 303
    venue = VenueHandle(console.admin.venue_id, console.admin.key, console.api)
    known = [make_performer(client, venue, name)["id"] for name in ("Anna Netrebko", "Juan Diego")]
    answer = console.post(f"/console/events/{event_id}/performers",
                          {"performer_ids": known[0], "new_name": "Rolando Villazon",
                           "new_email": "rolando@example.org"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    # (A form field named twice: urlencoded by hand.)
    token = csrf(client, "/console/account")
    body = f"csrf_token={token}&performer_ids={known[0]}&performer_ids={known[1]}"
    ids = console.event(event_id)["performer_ids"]
    body += f"&performer_ids={ids[1]}"
    answer = client.post(f"/console/events/{event_id}/performers", content=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return event_id, console.event(event_id)["performer_ids"]


def _split(console: Console, performer_ids: list[str]) -> dict[str, str]:
    form = {f"share.venue.{console.admin.venue_id}": "40,00", "platform_fee": "5",
            "cost_label_0": "stream production", "cost_amount_0": "100,00"}  # fmt: skip
    for performer_id, share in zip(performer_ids, ("20", "20", "20"), strict=True):
        form[f"share.performer.{performer_id}"] = share
    return form


def test_the_split_rule_form_stores_basis_points_and_costs_in_minor_units(
    console: Console, client: TestClient
) -> None:
    event_id, performer_ids = _set_up(console, client)
    assert len(performer_ids) == 3
    answer = console.post(f"/console/events/{event_id}/split-rule", _split(console, performer_ids))
    assert answer.status_code == 303, answer.text
    rule = ok(client.get(f"/v1/events/{event_id}/split-rule", headers=console.api))
    assert rule["platform_fee_bps"] == 500
    assert rule["costs"] == [{"label": "stream production", "amount": 10_000, "currency": "EUR"}]
    assert sorted(share["bps"] for share in rule["shares"]) == [2000, 2000, 2000, 4000]

    uneven = {**_split(console, performer_ids), f"share.venue.{console.admin.venue_id}": "39,99"}
    answer = console.post(f"/console/events/{event_id}/split-rule", uneven)
    assert answer.status_code == 422
    assert "the shares add up to 99.99 %, not 100 %" in answer.text
    assert "basis points" not in answer.text  # the service's words stay in the API
    thin = {**uneven, f"share.venue.{console.admin.venue_id}": "40,001"}
    answer = console.post(f"/console/events/{event_id}/split-rule", thin)
    assert answer.status_code == 422
    assert "enter a percentage such as 12,50" in answer.text


def test_the_split_preview_is_the_finance_waterfall(console: Console, client: TestClient) -> None:
    event_id, performer_ids = _set_up(console, client)
    fields = {**_split(console, performer_ids), "sample": "1000,00"}
    path = f"/console/events/{event_id}/split-preview"
    token = csrf(client, f"/console/events/{event_id}")

    refused = client.post(path, json={"fields": fields}, headers={"Accept": "application/json"})
    assert refused.status_code == 403  # no CSRF header

    answer = client.post(path, json={"fields": fields},
                         headers={"X-CSRF-Token": token, "Accept": "application/json"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    expected = waterfall([OrderMoney(items=((100_000, 2100),))], stripe_fees=0,
                         platform_fee_bps=500, costs=[("stream production", 10_000)],
                         shares=[(f"venue:{console.admin.venue_id}", 4000)]
                         + [(f"performer:{p}", 2000) for p in performer_ids])  # fmt: skip
    body = answer.json()
    assert [(p["party"], p["amount"]) for p in body["parties"]] == [
        (party, amount) for party, _, amount in expected.parties
    ]
    assert sum(p["amount"] for p in body["parties"]) == expected.distributable
    assert body["vat"]["amount"] == expected.vat
    assert any(line["label"].startswith("Rolando Villazon") for line in body["lines"])

    bad = client.post(path, json={"fields": {**fields, "sample": "ten"}},
                      headers={"X-CSRF-Token": token, "Accept": "application/json"})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {"sample": "enter an amount such as 15,00"}


def test_the_split_preview_settles_a_guarantee_as_the_split_does(
    console: Console, client: TestClient
) -> None:
    event_id, performer_ids = _set_up(console, client)
    first = performer_ids[0]
    fields = {**_split(console, performer_ids), "sample": "1000,00",
              f"guarantee.performer.{first}": "300,00"}  # fmt: skip
    token = csrf(client, f"/console/events/{event_id}")
    answer = client.post(f"/console/events/{event_id}/split-preview", json={"fields": fields},
                         headers={"X-CSRF-Token": token, "Accept": "application/json"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    parts = {p["party"]: p["amount"] for p in body["parties"]}
    # 20 % of what is shared is far below €300: the guarantee is paid, the other
    # parties give up the difference in proportion to their shares (40/20/20).
    assert parts[f"performer:{first}"] == 30_000
    assert sum(parts.values()) == body["distributable"]["amount"]
    others = body["distributable"]["amount"] - 30_000
    venue = parts[f"venue:{console.admin.venue_id}"]
    assert abs(venue - others * 40 // 80) <= 1
    assert all(abs(parts[f"performer:{p}"] - others * 20 // 80) <= 1 for p in performer_ids[1:])
    assert any("at least" in line["label"] and "300" in line["label"] for line in body["lines"])


def test_the_checklist_names_what_is_missing_then_publishing_puts_it_on_sale(
    console: Console, client: TestClient
) -> None:
    event_id = console.new_event(playback="")
    page = console.client.get(f"/console/events/{event_id}")
    checklist = re.search(r'<ul id="checklist">(.*?)</ul>', page.text, re.S)
    assert checklist, page.text
    assert "Set the origin URL of the stream." in checklist.group(1)
    assert "Add at least one tier." in checklist.group(1)
    assert "Set a split rule." in checklist.group(1)

    refused = console.post(f"/console/events/{event_id}/publish", {})
    assert refused.status_code == 422
    assert console.event(event_id)["status"] == "draft"

    assert console.post(f"/console/events/{event_id}", {**EVENT_FORM}).status_code == 303
    assert console.post(f"/console/events/{event_id}/tiers", TIER_FORM).status_code == 303
    split = {f"share.venue.{console.admin.venue_id}": "100"}
    assert console.post(f"/console/events/{event_id}/split-rule", split).status_code == 303
    assert 'id="checklist-complete"' in console.client.get(f"/console/events/{event_id}").text

    answer = console.post(f"/console/events/{event_id}/publish", {})
    assert answer.status_code == 303, answer.text
    assert console.event(event_id)["status"] == "on_sale"
    assert f"/events/{event_id}" in client.get("/").text


def test_every_form_needs_the_csrf_token(console: Console, client: TestClient) -> None:
    event_id = console.new_event()
    [tier] = [console.post(f"/console/events/{event_id}/tiers", TIER_FORM)] and console.tiers(
        event_id
    )
    for path in _form_paths(event_id, tier["id"]):
        answer = client.post(path, data={"title": "x"}, follow_redirects=False)
        assert answer.status_code == 403, path
        answer = post(client, path, {"title": "x"}, token="not-the-token")
        assert answer.status_code == 403, path
    assert console.event(event_id)["title"] == "La Traviata"


def _form_paths(event_id: str, tier_id: str) -> list[str]:
    return [
        "/console/events",
        f"/console/events/{event_id}",
        f"/console/events/{event_id}/tiers",
        f"/console/events/{event_id}/tiers/{tier_id}",
        f"/console/events/{event_id}/performers",
        f"/console/events/{event_id}/split-rule",
        f"/console/events/{event_id}/publish",
        f"/console/events/{event_id}/cancel",
        f"/console/events/{event_id}/split-preview",
        "/console/embed-origins",
    ]


def test_finance_reads_but_may_not_edit_publish_or_cancel(
    console: Console, client: TestClient, queue: RecordingQueue, database: Database,
    settings: Settings, clock: FixedClock,
) -> None:  # fmt: skip
    event_id = console.new_event()
    assert console.post(f"/console/events/{event_id}/tiers", TIER_FORM).status_code == 303
    [tier] = console.tiers(event_id)
    finance = member_signed_in(client, queue, database, settings, clock.now(),
                               "fred@example.org", "finance")  # fmt: skip

    page = finance.get(f"/console/events/{event_id}")
    assert page.status_code == 200
    assert "La Traviata" in page.text
    assert "<form" not in page.text.split('<main id="main"', 1)[1].split("</main>")[0]
    assert "/publish" not in page.text and f"/console/events/{event_id}/cancel" not in page.text
    assert finance.get("/console").status_code == 200
    assert finance.get("/console/events/new").status_code == 403
    assert finance.get(f"/console/events/{event_id}/cancel").status_code == 403

    token = csrf(finance, "/console/account")
    for path in _form_paths(event_id, tier["id"]):
        answer = post(finance, path, {**EVENT_FORM, **TIER_FORM}, token=token,
                      headers={"X-CSRF-Token": token})  # fmt: skip
        assert answer.status_code == 403, (path, answer.text[:200])
    assert console.event(event_id)["status"] == "draft"
    assert len(console.tiers(event_id)) == 1


def test_door_staff_see_nothing_but_check_in(
    console: Console, client: TestClient, queue: RecordingQueue, database: Database,
    settings: Settings, clock: FixedClock,
) -> None:  # fmt: skip
    event_id = console.new_event()
    door = member_signed_in(client, queue, database, settings, clock.now(),
                            "dora@example.org", "door")  # fmt: skip
    overview = door.get("/console", follow_redirects=False)
    assert (overview.status_code, overview.headers["location"]) == (303, "/console/check-in")
    assert door.get(f"/console/events/{event_id}").status_code == 403
    assert door.get("/console/events/new").status_code == 403


def test_the_overview_shows_sales_per_tier_gross_and_a_chart_with_its_table(
    console: Console, client: TestClient, database: Database, clock: FixedClock
) -> None:
    event_id, _ = _set_up(console, client)
    split = {f"share.venue.{console.admin.venue_id}": "100"}
    assert console.post(f"/console/events/{event_id}/split-rule", split).status_code == 303
    assert console.post(f"/console/events/{event_id}/publish", {}).status_code == 303
    venue = VenueHandle(console.admin.venue_id, console.admin.key, console.api)
    seat = make_tier(client, venue, event_id, name="Seat", capacity=10, price_amount=2000,
                     access={"quality": "sd", "in_venue": True})  # fmt: skip
    for _ in range(2):
        s.deliver(client, s.succeeded(buy(client, event_id, seat["id"])))
    s.drain(database, clock)

    page = console.client.get("/console")
    assert page.status_code == 200
    row = re.search(r'<table id="events">(.*?)</table>', page.text, re.S)
    assert row
    assert "Seat: 2 of 10" in row.group(1)
    assert "Stream HD: 0 (unlimited)" in row.group(1)
    assert "€40.00" in row.group(1)
    assert "<svg" in page.text and page.text.count("<rect") == 30
    days = re.search(r'<table id="sales-per-day">(.*?)</table>', page.text, re.S)
    assert days and days.group(1).count("<tr>") == 31  # the head and 30 days
    today = re.findall(r"<tr><th scope=\"row\">[^<]+</th><td>(\d+)</td><td>([^<]+)</td></tr>",
                       days.group(1))  # fmt: skip
    assert today[-1] == ("2", "€40.00")


def _published(console: Console) -> str:
    """An event on sale with one HD tier at 15.00, all of it to the venue."""
    event_id = console.new_event()
    assert console.post(f"/console/events/{event_id}/tiers", TIER_FORM).status_code == 303
    split = {f"share.venue.{console.admin.venue_id}": "100"}
    assert console.post(f"/console/events/{event_id}/split-rule", split).status_code == 303
    assert console.post(f"/console/events/{event_id}/publish", {}).status_code == 303
    return event_id


def test_cancelling_names_the_refunds_then_shows_the_jobs_progress(
    console: Console, client: TestClient, database: Database, clock: FixedClock
) -> None:
    event_id = _published(console)
    [tier] = console.tiers(event_id)
    for _ in range(3):
        s.deliver(client, s.succeeded(buy(client, event_id, tier["id"])))
    buy(client, event_id, tier["id"])  # pending: nothing to refund
    s.drain(database, clock)

    page = console.client.get(f"/console/events/{event_id}/cancel")
    assert page.status_code == 200
    assert "3 paid orders will be refunded: €45.00 in all." in page.text

    answer = console.post(f"/console/events/{event_id}/cancel", {},
                          f"/console/events/{event_id}/cancel")  # fmt: skip
    assert answer.status_code == 303, answer.text
    progress_url = answer.headers["location"]
    job_id = progress_url.rsplit("=", 1)[1]
    assert console.event(event_id)["status"] == "cancelled"
    assert "0 of 0 orders settled" in console.client.get(progress_url).text

    cancellation.run(database, job_id, clock.now())
    job = console.client.get(f"/console/jobs/{job_id}").json()
    assert (job["status"], job["progress"]) == ("succeeded", {"done": 4, "total": 4})
    assert job["result"]["refunds_requested"] == 3
    assert "4 of 4 orders settled Done." in console.client.get(progress_url).text


def test_embed_origins_let_the_venues_site_frame_its_event_page(
    console: Console, client: TestClient
) -> None:
    event_id = _published(console)
    before = client.get(f"/events/{event_id}")
    assert before.status_code == 200
    assert "frame-ancestors 'none'" in before.headers["content-security-policy"]
    page = console.client.get(f"/console/events/{event_id}")
    assert f'&lt;iframe src="http://testserver/events/{event_id}"' in page.text or (
        f"/events/{event_id}&#34;" in page.text or f'/events/{event_id}"' in page.text
    )

    refused = console.post("/console/embed-origins",
                           {"event_id": event_id, "embed_origins": "*.example.org"})  # fmt: skip
    assert refused.status_code == 422
    assert "not an address such as https://www.venue.example: *.example.org" in refused.text
    answer = console.post("/console/embed-origins", {
        "event_id": event_id,
        "embed_origins": "https://www.opera.example/agenda\nhttps://tickets.opera.example:8443",
    })  # fmt: skip
    assert answer.status_code == 303, answer.text
    policy = client.get(f"/events/{event_id}").headers["content-security-policy"]
    assert ("frame-ancestors https://www.opera.example https://tickets.opera.example:8443"
            in policy)  # fmt: skip
    # Only the event pages: the rest of the site is still never framed.
    assert "frame-ancestors 'none'" in client.get("/").headers["content-security-policy"]
    assert "https://www.opera.example" in console.client.get(f"/console/events/{event_id}").text


def test_start_times_in_summer_use_summer_time(console: Console) -> None:
    event = console.event(console.new_event(starts_at="2027-07-01T20:00",
                                            ends_at="2027-07-01T22:30"))  # fmt: skip
    assert datetime.fromisoformat(event["starts_at"]) == datetime.fromisoformat(
        "2027-07-01T18:00:00+00:00"
    )
    assert datetime.fromisoformat(event["ends_at"]) - datetime.fromisoformat(
        event["starts_at"]
    ) == timedelta(hours=2, minutes=30)


def test_the_event_page_in_dutch(console: Console) -> None:
    event_id = _published(console)
    console.client.cookies.set("lang", "nl")
    page = console.client.get(f"/console/events/{event_id}")
    assert "Evenement opslaan" in page.text and "€ 15,00" in page.text
    assert "In verkoop" in page.text
    answer = console.post(f"/console/events/{event_id}/tiers", {**TIER_FORM, "price_amount": "x"})
    assert re.search(r'id="error-tier-new-price_amount"[^>]*>vul een bedrag in, zoals 15,00<',
                     answer.text)  # fmt: skip


def test_the_split_forms_refusals_in_dutch(console: Console, client: TestClient) -> None:
    event_id, performer_ids = _set_up(console, client)
    console.client.cookies.set("lang", "nl")
    uneven = {**_split(console, performer_ids), f"share.venue.{console.admin.venue_id}": "39,99"}
    answer = console.post(f"/console/events/{event_id}/split-rule", uneven)
    assert answer.status_code == 422
    assert re.search(r'id="error-split-shares"[^>]*>de aandelen tellen op tot 99.99 %, '
                     r"niet 100 %<", answer.text)  # fmt: skip
    assert "Sommige velden vragen je aandacht." in answer.text
    # The live preview (the page's script) says its refusals in the page's words too.
    bad = client.post(f"/console/events/{event_id}/split-preview",
                      json={"fields": {**uneven, "sample": "tien"}},
                      headers={"X-CSRF-Token": csrf(client, f"/console/events/{event_id}"),
                               "Accept": "application/json"})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"] == {"code": "validation_error",
                                   "message": "Sommige velden vragen je aandacht.",
                                   "fields": {"sample": "vul een bedrag in, zoals 15,00"}}  # fmt: skip


def _sold(console: Console, client: TestClient, database: Database, clock: FixedClock) -> str:
    """A published event whose one tier (15.00, unlimited) sold two tickets: its id."""
    event_id = _published(console)
    [tier] = console.tiers(event_id)
    for _ in range(2):
        s.deliver(client, s.succeeded(buy(client, event_id, tier["id"], quantity=1)))
    s.drain(database, clock)
    assert console.tiers(event_id)[0]["sold"] == 2
    return event_id


def test_a_sold_tiers_refusals_name_the_amount_and_the_count(
    console: Console, client: TestClient, database: Database, clock: FixedClock
) -> None:
    event_id = _sold(console, client, database, clock)
    [tier] = console.tiers(event_id)
    path = f"/console/events/{event_id}/tiers/{tier['id']}"
    cheaper = console.post(path, {**TIER_FORM, "price_amount": "10,00"})
    assert cheaper.status_code == 409
    assert "The price of a tier with sales cannot be lowered." in cheaper.text
    # In the currency's words, not the API's minor units.
    assert re.search(rf'id="error-tier-{tier["id"]}-price_amount"[^>]*>at least €15.00 while '
                     r"tickets are sold<", cheaper.text)  # fmt: skip
    smaller = console.post(path, {**TIER_FORM, "capacity": "1"})
    assert smaller.status_code == 409
    assert re.search(rf'id="error-tier-{tier["id"]}-capacity"[^>]*>at least 2<', smaller.text)
    assert console.tiers(event_id)[0]["price_amount"] == 1500


def test_a_sold_tiers_refusals_in_dutch(
    console: Console, client: TestClient, database: Database, clock: FixedClock
) -> None:
    event_id = _sold(console, client, database, clock)
    [tier] = console.tiers(event_id)
    console.client.cookies.set("lang", "nl")
    cheaper = console.post(f"/console/events/{event_id}/tiers/{tier['id']}",
                           {**TIER_FORM, "price_amount": "10,00"})  # fmt: skip
    assert cheaper.status_code == 409
    assert re.search(rf'id="error-tier-{tier["id"]}-price_amount"[^>]*>minstens € 15,00 nu er '
                     r"tickets verkocht zijn<", cheaper.text)  # fmt: skip


def test_an_event_with_seats_stays_hybrid_said_in_the_pages_words(console: Console) -> None:
    event_id = console.new_event()
    seat = {**TIER_FORM, "name": "Seat", "capacity": "120", "in_venue": "on"}
    assert console.post(f"/console/events/{event_id}/tiers", seat).status_code == 303
    online = console.post(f"/console/events/{event_id}", {**EVENT_FORM,
                                                          "attendance_mode": "online"})  # fmt: skip
    assert online.status_code == 409
    assert re.search(r'id="error-event-attendance_mode"[^>]*>the event has tiers with a seat in '
                     r"the venue<", online.text)  # fmt: skip
    unlimited = console.post(f"/console/events/{event_id}/tiers", {**seat, "capacity": ""})
    assert unlimited.status_code == 422
    assert re.search(r'id="error-tier-new-capacity"[^>]*>a tier with a seat in the venue needs '
                     r"a capacity<", unlimited.text)  # fmt: skip
    assert console.event(event_id)["attendance_mode"] == "hybrid"


def _push_draft(console: Console) -> Any:
    event_id = console.new_event()
    token = csrf(console.client, f"/console/events/{event_id}")
    return post(console.client, f"/console/events/{event_id}/uitdatabank/push", {}, token=token,
                headers={"Accept": "text/html"})  # fmt: skip


def test_pushing_a_draft_to_uitdatabank_is_refused_in_the_pages_words(console: Console) -> None:
    refused = _push_draft(console)
    assert refused.status_code == 409
    assert "Only a published event that is not over is listed in UiTdatabank." in refused.text
    assert "Only a published event that is not over is listed." not in refused.text


def test_pushing_a_draft_to_uitdatabank_is_refused_in_dutch(console: Console) -> None:
    console.client.cookies.set("lang", "nl")
    refused = _push_draft(console)
    assert refused.status_code == 409
    assert (
        "Alleen een gepubliceerd evenement dat nog niet voorbij is, staat in UiTdatabank."
        in refused.text
    )
