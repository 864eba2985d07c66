"""No 500 for any input (issue 13): each of these once answered 500. Each must now be
a 4xx in the error shape that stores nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from config.settings import DEV_PLATFORM_KEY, Settings
from streamsvc.db import Database
from streamsvc.kit import jsontext
from streamsvc.kit.clock import FixedClock
from streamsvc.models import metadata
from streamsvc.orders import webhooks
from streamsvc.orders.models import Order, OrderStatus
from streamsvc.payments import inbox
from streamsvc.payments.models import StripeEvent, StripeEventStatus
from streamsvc.viewing.tokens import InvalidToken, signer_from_settings
from tests.conftest import RecordingQueue
from tests.factories import PLATFORM, VenueHandle, buy, make_tier, tier_body
from tests.harness import TEST_WEBHOOK_SECRET
from tests.orders import scenarios as s
from tests.stripe_helpers import sign

DEEP = 5000  # far past the interpreter's recursion limit
SHALLOW_BUT_TOO_DEEP = jsontext.MAX_DEPTH + 5  # parses, but past our bound


def deep_object(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


def rows(engine: Any) -> dict[str, int]:
    """How many rows every table holds."""
    with engine.connect() as conn:
        return {
            table.name: conn.execute(text(f'SELECT count(*) FROM "{table.name}"')).scalar_one()
            for table in metadata.sorted_tables
        }


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def stored(engine: Any, shop: Any) -> Iterator[None]:
    """The test's requests store nothing beyond the shop they start from."""
    before = rows(engine)
    yield
    assert rows(engine) == before


# --- JSON nested thousands deep -----------------------------------------------------


def _write_routes(client: TestClient) -> list[tuple[str, str, list[str]]]:
    spec = client.get("/openapi.json").json()
    return [
        (path, method, [next(iter(need)) for need in op.get("security", [])])
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if "requestBody" in op
    ]


@pytest.mark.parametrize("depth", [DEEP, SHALLOW_BUT_TOO_DEEP])
def test_deep_json_is_400_on_every_write_route(
    client: TestClient, shop: Any, engine: Any, depth: int
) -> None:
    venue, event, tier_id = shop
    routes = _write_routes(client)
    assert len(routes) >= 10
    before = rows(engine)
    # Any other path parameter: an id of nothing (the body is refused before a lookup).
    known = {"code": "tktcode", "event_id": event["id"], "tier_id": tier_id}
    for path, method, security in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: known.get(m.group(1), f"{m.group(1)}_x"), path)
        headers = {"Content-Type": "application/json"}
        if "platform" in security:
            headers["Authorization"] = f"Bearer {DEV_PLATFORM_KEY}"
        elif security:
            headers.update(venue.headers)
        response = client.request(method, url, content=deep_object(depth), headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "malformed_json", path
    assert rows(engine) == before


# --- path parameters ----------------------------------------------------------------


def test_a_long_path_id_with_an_idempotency_key_is_404_and_stores_no_key(
    client: TestClient, shop: Any, stored: None
) -> None:
    venue, _, tier_id = shop
    long_id = "evt_" + "x" * 200
    key = {"Idempotency-Key": "k-1"}
    order = {"email": "a@example.org", "items": [{"tier_id": tier_id, "quantity": 1}]}
    assert_error(client.post(f"/v1/public/events/{long_id}/orders", json=order, headers=key), 404)
    refund = client.post(f"/v1/orders/ord_{'x' * 200}/refunds", json={},
                         headers={**venue.headers, **key})  # fmt: skip
    assert_error(refund, 404)
    # A well-formed id of no order: still no key kept for it.
    assert_error(client.post("/v1/orders/ord_nothere/refunds", json={},
                             headers={**venue.headers, **key}), 404)  # fmt: skip


@pytest.mark.parametrize("bad", ["evt%00x", "%00", "evt_%E2%80%AEx", "a" * 41, "evt.x"])
def test_a_malformed_path_parameter_is_404(
    client: TestClient, shop: Any, stored: None, bad: str
) -> None:
    venue, _, _ = shop
    assert_error(client.get(f"/v1/events/{bad}", headers=venue.headers), 404)
    assert_error(client.get(f"/v1/public/events/{bad}"), 404)
    assert_error(client.patch(f"/v1/tiers/{bad}", json={"name": "x"}, headers=venue.headers), 404)
    assert_error(client.post(f"/v1/orders/{bad}/refunds", json={}, headers=venue.headers), 404)
    assert_error(client.post(f"/v1/tickets/{bad}/sessions", json={"device_id": "tv"}), 404)
    assert_error(client.delete(f"/v1/api-keys/{bad}", headers=venue.headers), 404)
    statement = f"/v1/finance/parties/performer/{bad}/statement"
    assert_error(client.get(statement, headers=venue.headers), 404)


# --- dates far away -----------------------------------------------------------------


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2201-01-01"])
def test_far_dates_in_export_and_statement_filters_are_422(
    client: TestClient, shop: Any, day: str
) -> None:
    venue, _, _ = shop
    for field in ("from", "to"):
        error = assert_error(
            client.get("/v1/finance/splits", params={field: day}, headers=venue.headers), 422
        )
        assert f"query.{field}" in error["fields"], error
        statement = f"/v1/finance/parties/venue/{venue.id}/statement"
        assert_error(client.get(statement, params={field: day}, headers=venue.headers), 422)
    assert_error(client.get("/v1/finance/ledger", params={"to": f"{day}T00:00:00Z"},
                            headers=venue.headers), 422)  # fmt: skip


# --- signed Stripe webhooks ---------------------------------------------------------


def post_signed(client: TestClient, payload: bytes) -> Any:
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign(payload, TEST_WEBHOOK_SECRET),
    }
    return client.post("/v1/stripe/webhook", content=payload, headers=headers)


def _stripe_event(**changes: Any) -> dict[str, Any]:
    obj = s.stripe_object("payment_intent", status="succeeded", metadata={})
    evt = s.event("payment_intent.succeeded", obj)
    evt.update(changes)
    return evt


MALFORMED_EVENTS: dict[str, bytes] = {
    "created is text": json.dumps(_stripe_event(created="yesterday")).encode(),
    "created is a float": json.dumps(_stripe_event(created=1.7e9)).encode(),
    "created is infinite": json.dumps(_stripe_event(created=0)).encode().replace(
        b'"created": 0', b'"created": Infinity'),
    "created is negative": json.dumps(_stripe_event(created=-1)).encode(),
    "created past BIGINT": json.dumps(_stripe_event(created=2**70)).encode(),
    "created is a boolean": json.dumps(_stripe_event(created=True)).encode(),
    "an amount past BIGINT": json.dumps(
        _stripe_event(data={"object": {"id": "pi_1", "amount": 10**30}})).encode(),
    "NUL in a string": json.dumps(_stripe_event(type="payment_intent.succeeded\x00")).encode(),
    "NUL in a key": json.dumps(_stripe_event(data={"object": {"id": "pi_1", "a\x00": 1}})).encode(),
    "lone surrogate": json.dumps(_stripe_event(data={"object": {"id": "pi_\ud800"}})).encode(),
    "NUL in the id": json.dumps(_stripe_event(id="evt_\x00")).encode(),
    "no id": json.dumps(_stripe_event(id=None)).encode(),
    "nested thousands deep": json.dumps(_stripe_event(data=None)).encode().replace(
        b'"data": null', b'"data": ' + b"[" * DEEP + b"]" * DEEP),
    "nested past the bound": json.dumps(_stripe_event(data=None)).encode().replace(
        b'"data": null', b'"data": ' + b"[" * 40 + b"]" * 40),
}  # fmt: skip


@pytest.mark.parametrize("case", MALFORMED_EVENTS)
def test_signed_malformed_webhooks_are_400_and_store_nothing(
    client: TestClient, engine: Any, queue: RecordingQueue, case: str
) -> None:
    before = rows(engine)
    assert_error(post_signed(client, MALFORMED_EVENTS[case]), 400, "invalid_event")
    assert rows(engine) == before
    assert queue.sent == []


def test_unsigned_deep_webhooks_are_400(client: TestClient) -> None:
    payload = b"[" * DEEP + b"]" * DEEP
    bad_signature = {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}
    response = client.post("/v1/stripe/webhook", content=payload, headers=bad_signature)
    assert_error(response, 400, "invalid_signature")


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("refund.updated", {"id": "re_1", "amount": "15.00", "status": "succeeded"}),
        ("refund.updated", {"amount": 100}),
        ("charge.dispute.created", {"id": "dp_1", "amount": 100, "status": ["x"]}),
        ("payment_intent.succeeded", ["not", "an", "object"]),
        ("payment_intent.succeeded", {"id": "pi_1", "metadata": "order_id=ord_1"}),
        ("charge.refunded", {"id": "ch_1", "refunds": {"data": [{"id": "re_1"}]}}),
    ],
)
def test_a_handled_event_with_a_malformed_object_is_recorded_failed(
    client: TestClient, engine: Any, queue: RecordingQueue, database: Database, kind: str,
    obj: Any,
) -> None:  # fmt: skip
    evt = s.event(kind, {})
    evt["data"] = {"object": obj}
    response = post_signed(client, json.dumps(evt).encode())
    assert response.status_code == 200, response.text
    assert queue.sent == []  # nothing to retry
    with database.unit_of_work() as uow:
        row = uow.session.get(StripeEvent, evt["id"])
        assert row is not None
        assert row.status == StripeEventStatus.failed
        assert row.error is not None and row.error.startswith("malformed")


def test_the_worker_fails_a_stored_malformed_event_at_once(
    client: TestClient, shop: Any, database: Database, clock: FixedClock
) -> None:
    """A row stored before its object was checked (or one `apply` cannot read) is not
    retried: `process` says MalformedEvent, rolled back, and the task marks it failed."""
    _, event, tier_id = shop
    order = buy(client, event["id"], tier_id)
    evt = s.succeeded(order)
    evt["data"]["object"]["amount_received"] = "lots"
    with database.unit_of_work() as uow:
        uow.session.add(StripeEvent(
            id=evt["id"], type=evt["type"], created=evt["created"], payload=evt,
            status=StripeEventStatus.received, received_at=clock.now(),
        ))  # fmt: skip
    with pytest.raises(inbox.MalformedEvent), database.unit_of_work() as uow:
        webhooks.process(uow, evt["id"], clock.now())
    with database.unit_of_work() as uow:
        inbox.mark_failed(uow.session, evt["id"], "malformed", clock.now())
    with database.unit_of_work() as uow:
        row = uow.session.get(StripeEvent, evt["id"])
        assert row is not None and row.status == StripeEventStatus.failed
        assert webhooks.process(uow, evt["id"], clock.now()) == "failed"
        paid = uow.session.get(Order, order["id"])
        assert paid is not None and paid.status == OrderStatus.pending  # nothing applied


# --- viewing tokens -----------------------------------------------------------------


def _forged(settings: Settings, claims: bytes) -> str:
    """A token signed with the real key whose claims are `claims` as they are."""
    kid = settings.token_signing_key_id
    secret = settings.token_keys[kid].get_secret_value().encode()
    payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    signed = f"v1.{kid}.{payload}"
    mac = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


GOOD_CLAIMS = '"s": "ses_1", "t": "tkt_1", "e": "evt_1", "q": ["hd"], "x": [], "iat": 1'


@pytest.mark.parametrize(
    "exp", ["Infinity", "-Infinity", "NaN", "1e400", "1.8e9", '"1800000000"', "true",
            "null", str(2**70), "-5", "[1]"],
)  # fmt: skip
def test_a_token_whose_expiry_is_not_a_sane_integer_is_401(
    client: TestClient, settings: Settings, exp: str
) -> None:
    token = _forged(settings, f'{{{GOOD_CLAIMS}, "exp": {exp}}}'.encode())
    with pytest.raises(InvalidToken):
        signer_from_settings(settings).verify(token, 1_700_000_000, 60)
    response = client.get("/v1/viewing/authorize", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401)


def test_a_token_whose_claims_have_other_types_is_401(settings: Settings) -> None:
    signer = signer_from_settings(settings)
    for claims in ('{"s": 1, "t": "t", "e": "e", "q": [], "x": [], "iat": 1, "exp": 2}',
                   '{"s": "s", "t": "t", "e": "e", "q": "hd", "x": [], "iat": 1, "exp": 2}',
                   '[' * DEEP + ']' * DEEP):  # fmt: skip
        with pytest.raises(InvalidToken):
            signer.verify(_forged(settings, claims.encode()), 1, 60)


# --- strict integers and printable names --------------------------------------------


@pytest.mark.parametrize("value", ["15.00", "1500", 15.0, 1500.5, True])
def test_money_and_counts_are_strict_integers(
    client: TestClient, shop: Any, stored: None, value: Any
) -> None:
    venue, event, tier_id = shop
    tiers = f"/v1/events/{event['id']}/tiers"
    for field in ("price_amount", "vat_rate_bps", "capacity"):
        error = assert_error(client.post(tiers, json=tier_body(**{field: value}),
                                         headers=venue.headers), 422)  # fmt: skip
        assert field in error["fields"], error
    access = tier_body()["access"] | {"max_devices": value}
    assert_error(client.post(tiers, json=tier_body(access=access), headers=venue.headers), 422)
    order = {"email": "a@example.org", "items": [{"tier_id": tier_id, "quantity": value}]}
    assert_error(client.post(f"/v1/public/events/{event['id']}/orders", json=order), 422)
    for field in ("doors_open_minutes", "replay_hours"):
        assert_error(client.patch(f"/v1/events/{event['id']}", json={field: value},
                                  headers=venue.headers), 422)  # fmt: skip
    refund = client.post("/v1/orders/ord_x/refunds", json={"amount": value}, headers=venue.headers)
    assert_error(refund, 422)


def test_a_tier_priced_15_00_is_refused_not_stored_as_15_cents(
    client: TestClient, shop: Any
) -> None:
    venue, event, _ = shop
    assert_error(client.post(f"/v1/events/{event['id']}/tiers",
                             json=tier_body(price_amount="15.00"), headers=venue.headers), 422)  # fmt: skip
    tier = make_tier(client, venue, event["id"], price_amount=1500)
    assert tier["price_amount"] == 1500


@pytest.mark.parametrize(
    "name",
    ["Evil\x1b[31mRed", "Anna\u202eokbert", "Zero\u200bwidth", "Line\nbreak", "Tab\tbed",
     "\u2066isolate", "Bom\ufeff", "\U000e0041tag"],
)  # fmt: skip
def test_names_and_titles_refuse_control_and_format_characters(
    client: TestClient, shop: tuple[VenueHandle, Any, str], stored: None, name: str
) -> None:
    venue, event, tier_id = shop
    creating = [
        ("/v1/venues", {"name": name, "country": "NL", "currency": "EUR",
                        "timezone": "Europe/Amsterdam"}, PLATFORM, "name"),
        ("/v1/performers", {"name": name, "email": "p@example.org"}, venue.headers, "name"),
        ("/v1/api-keys", {"role": "admin", "label": name}, venue.headers, "label"),
        (f"/v1/events/{event['id']}/tiers", tier_body(name=name), venue.headers, "name"),
    ]  # fmt: skip
    for url, body, headers, field in creating:
        error = assert_error(client.post(url, json=body, headers=headers), 422)
        assert field in error["fields"], (url, error)
    for url, body in ((f"/v1/events/{event['id']}", {"title": name}),
                      (f"/v1/tiers/{tier_id}", {"name": name})):  # fmt: skip
        assert_error(client.patch(url, json=body, headers=venue.headers), 422)


def test_ordinary_names_in_any_script_are_accepted(client: TestClient) -> None:
    for name in ("Théâtre de l'Œuvre", "Концертный зал", "東京オペラシティ", "مسرح", "Zürich 🎭"):
        body = {"name": name, "country": "NL", "currency": "EUR", "timezone": "Europe/Amsterdam"}
        response = client.post("/v1/venues", json=body, headers=PLATFORM)
        assert response.status_code == 201, (name, response.text)
