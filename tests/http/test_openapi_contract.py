"""The OpenAPI document describes every route: request, response and error schemas."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

ERROR_REF = "#/components/schemas/ErrorBody"
NO_JSON_BODY = {("/metrics", "get"), ("/docs", "get"), ("/openapi.json", "get"),
                ("/v1/public/events.ics", "get"),
                ("/v1/finance/parties/{party_type}/{party_id}/statement", "get")}  # fmt: skip


MEDIA_HOOKS = {"/v1/viewing/hooks/srs", "/v1/viewing/hooks/ome"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_every_operation_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, method, op in _operations(spec):
        where = f"{method.upper()} {path}"
        assert op.get("operationId"), f"{where} has no @endpoint/@operation"
        assert op["summary"], where
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert successes, f"{where} documents no success response"
        for status, response in successes.items():
            if status == "204" or (path, method) in NO_JSON_BODY:
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref.split("/")[-1] in schemas, where
        for status, response in op["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, f"{where} {status}"
        if op.get("security"):
            assert "401" in op["responses"], f"{where} needs a key but documents no 401"
        # Media-server hooks answer in the server's own protocol, never with a 422.
        if method in ("post", "put", "patch") and "requestBody" in op and path not in MEDIA_HOOKS:
            assert "422" in op["responses"], where


def test_every_route_of_the_contract_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    served = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    contract = {
        ("POST", "/v1/venues"), ("POST", "/v1/api-keys"), ("GET", "/v1/api-keys"),
        ("DELETE", "/v1/api-keys/{key_id}"), ("POST", "/v1/performers"), ("GET", "/v1/performers"),
        ("GET", "/v1/performers/{performer_id}"), ("PATCH", "/v1/performers/{performer_id}"),
        ("POST", "/v1/events"), ("GET", "/v1/events"), ("GET", "/v1/events/{event_id}"),
        ("PATCH", "/v1/events/{event_id}"), ("POST", "/v1/events/{event_id}/publish"),
        ("POST", "/v1/events/{event_id}/tiers"), ("GET", "/v1/events/{event_id}/tiers"),
        ("PATCH", "/v1/tiers/{tier_id}"), ("PUT", "/v1/events/{event_id}/split-rule"),
        ("GET", "/v1/events/{event_id}/split-rule"), ("GET", "/v1/public/events"),
        ("GET", "/v1/public/events/{event_id}"), ("GET", "/v1/public/events.ics"),
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.json"),
        ("GET", "/docs"), ("POST", "/v1/finance/reconciliations"), ("GET", "/v1/jobs/{job_id}"),
        ("GET", "/v1/finance/events/{event_id}/statement"), ("GET", "/v1/finance/splits"),
        ("GET", "/v1/finance/ledger"),
    }  # fmt: skip
    assert contract <= served, contract - served


# Money in the API is an integer of minor units; these names carry money wherever they
# appear as integers (the finance waterfall's columns as well as every `*_amount`).
WATERFALL = {"gross", "refunds", "disputes", "vat", "revenue_ex_vat", "stripe_fees",
             "platform_fee", "costs", "distributable", "undistributed"}  # fmt: skip


def _is_integer(schema: dict[str, Any]) -> bool:
    kinds = [schema, *schema.get("anyOf", [])]
    return any(kind.get("type") == "integer" for kind in kinds)


def _is_money(name: str, schema: dict[str, Any]) -> bool:
    named = name == "amount" or name.endswith(("_amount", "price")) or name in WATERFALL
    return named and _is_integer(schema)


def test_every_schema_property_is_described(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    undescribed = sorted(
        f"{name}.{prop}"
        for name, schema in schemas.items()
        for prop, sub in schema.get("properties", {}).items()
        if not sub.get("description", "").strip()
    )
    assert undescribed == [], undescribed


def test_every_money_field_says_minor_units(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    money = {
        f"{name}.{prop}": sub.get("description", "")
        for name, schema in schemas.items()
        for prop, sub in schema.get("properties", {}).items()
        if _is_money(prop, sub)
    }
    # The check finds the money it must: prices, order totals, refunds, the waterfall.
    assert {"TierPublic.price_amount", "TierCreate.price_amount", "PayWhatYouWant.min_amount",
            "Cost.amount", "LedgerLine.amount", "Statement.gross",
            "SplitRow.party_amount"} <= set(money)  # fmt: skip
    vague = sorted(where for where, text in money.items() if "minor units" not in text)
    assert vague == [], vague


def test_timestamps_say_their_format(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    stamps = {
        f"{name}.{prop}": sub.get("description", "")
        for name, schema in schemas.items()
        for prop, sub in schema.get("properties", {}).items()
        if any(k.get("format") == "date-time" for k in [sub, *sub.get("anyOf", [])])
    }
    assert "EventPublic.starts_at" in stamps
    vague = sorted(where for where, text in stamps.items() if "RFC 3339" not in text)
    assert vague == [], vague
