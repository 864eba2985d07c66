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
