"""Generated requests against every write route: never a 5xx, always the documented shape.

Cases come from /openapi.json (schemathesis); half of them aim at real objects of
the caller's venue so that they get past the 404 and into the services. Hostile cases
that schemathesis does not make are generated here too (issue 13): bodies nested far
deeper than any schema (past the interpreter's recursion limit too), and path ids
that are too long, hold NUL or other characters no id has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from config.settings import DEV_PLATFORM_KEY, Settings
from streamsvc.app import create_app
from streamsvc.kit.clock import FixedClock
from tests.factories import (
    bearer,
    make_event,
    make_performer,
    make_tier,
    make_venue,
    ok,
    put_split_rule,
)

CASES_PER_ROUTE = 200
WRITE_METHODS = ("post", "put", "patch", "delete")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip


def _spec() -> dict[str, Any]:
    # Building the app builds no resources: only the route table and its OpenAPI.
    spec: dict[str, Any] = create_app(
        Settings(database_url="postgresql://x/y", redis_url="redis://x")
    ).state.openapi
    return spec


WRITE_ROUTES = [
    (path, method)
    for path, ops in _spec()["paths"].items()
    for method in ops
    if method in WRITE_METHODS
]


# Hostile input schemathesis does not generate (issue 13).


def _deep_body(depth: int, as_object: bool, key: str) -> bytes:
    """A JSON object with one member nested `depth` levels deep, as text (json.dumps
    itself recurses, so the text is built around a shallow inner value)."""
    opening, closing = ('{"a": ', "}") if as_object else ("[", "]")
    return ("{" + json.dumps(key) + ": " + opening * depth + "1" + closing * depth + "}").encode()


deep_bodies = st.builds(
    _deep_body,
    depth=st.sampled_from([33, 64, 500, 999, 1000, 1500, 20_000]),
    as_object=st.booleans(),
    key=st.sampled_from(["name", "items", "email", "access", "costs", "x"]),
)
hostile_ids = st.one_of(
    st.text(alphabet="abcdefghjkmnpqrstvwxyz0123456789_", min_size=41, max_size=400),
    st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=20), st.text(max_size=20)),
    st.builds(lambda a, b: f"{a}{b}", st.sampled_from(["evt_", "ord_", "tkt_", ""]),
              st.text(alphabet="\u202e\u200b\x1b\x7f\ufeff\u2066 ~%", min_size=1)),
)  # fmt: skip


@dataclass
class World:
    admin_key: str
    path_ids: dict[str, str]


@pytest.fixture
def world(client: TestClient, clock: FixedClock) -> World:
    venue = make_venue(client)
    spare = ok(client.post("/v1/api-keys", json={"role": "admin", "label": "spare"},
                           headers=venue.headers), 201)  # fmt: skip
    performer = make_performer(client, venue)
    event = make_event(client, venue, clock.now(), performer_ids=[performer["id"]])
    tier = make_tier(client, venue, event["id"], capacity=100)
    put_split_rule(client, venue, event["id"], [performer["id"]])
    return World(
        admin_key=venue.key,
        path_ids={"event_id": event["id"], "tier_id": tier["id"],
                  "performer_id": performer["id"], "key_id": spare["id"]},
    )  # fmt: skip


def test_every_write_route_is_fuzzed() -> None:
    assert len(WRITE_ROUTES) >= 10, WRITE_ROUTES


@pytest.mark.parametrize(("path", "method"), WRITE_ROUTES)
def test_write_route_answers_bad_input_cleanly(
    client: TestClient, world: World, path: str, method: str
) -> None:
    spec = _spec()
    schema = schemathesis.openapi.from_dict(spec)
    operation = schema[path][method.upper()]
    needs = spec["paths"][path][method].get("security", [{}])[0]
    token = DEV_PLATFORM_KEY if "platform" in needs else world.admin_key
    headers = bearer(token) if needs else {}

    # Valid requests (which must succeed or fail cleanly) and invalid ones (which must
    # be refused with a 4xx in the documented shape).
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    # One case in five is hostile in a way the schema cannot express: its body nested
    # far too deep, or one path id too long, with NUL or with characters no id has
    # (sent with an Idempotency-Key, which must not be stored for it).
    @settings(max_examples=CASES_PER_ROUTE, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=cases, aim_at_real_objects=st.booleans(),
           hostility=st.sampled_from(("none", "none", "none", "deep_body", "path_id")),
           deep_body=deep_bodies, bad_id=hostile_ids)  # fmt: skip
    def run(case: Any, aim_at_real_objects: bool, hostility: str, deep_body: bytes,
            bad_id: str) -> None:  # fmt: skip
        if aim_at_real_objects and case.path_parameters:
            case.path_parameters = {
                name: world.path_ids.get(name, value)
                for name, value in case.path_parameters.items()
            }
        if hostility == "path_id" and case.path_parameters:
            which = sorted(case.path_parameters)[len(bad_id) % len(case.path_parameters)]
            # Sent percent-encoded (schemathesis puts path values in the URL as they are).
            case.path_parameters = {**case.path_parameters, which: quote(bad_id, safe="")}
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        if hostility == "deep_body":
            response = client.request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"), content=deep_body,
                headers={**(kwargs.get("headers") or {}), "Content-Type": "application/json"},
            )  # fmt: skip
        else:
            key = {"Idempotency-Key": "fuzz"} if hostility == "path_id" else {}
            response = client.request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                json=kwargs.get("json"), headers={**(kwargs.get("headers") or {}), **key},
            )  # fmt: skip
        case.validate_response(response, checks=CHECKS)
        if hostility == "deep_body" and "requestBody" in spec["paths"][path][method]:
            assert response.status_code in (400, 401, 403, 404, 413), response.text[:500]
        elif hostility == "path_id" and case.path_parameters:
            assert response.status_code in (401, 403, 404, 405), response.text[:500]

    run()
