"""Every error leaves in the API.md shape; the request boundary commits or rolls back."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.errors import Conflict
from streamsvc.http.endpoint import json_response, read_body, read_query


class Item(BaseModel):
    tier_id: str = Field(max_length=10)
    quantity: int = Field(ge=1, le=10)


class Order(BaseModel):
    model_config = {"extra": "forbid"}
    email: str
    items: list[Item] = Field(max_length=3)


class Page(BaseModel):
    limit: int = Field(default=50, ge=1, le=100)


async def create_order(request: Request) -> Response:
    order = await read_body(request, Order)
    return json_response(order, 201)


async def list_orders(request: Request) -> Response:
    return json_response(read_query(request, Page))


async def conflict(request: Request) -> Response:
    raise Conflict("The tier is sold out.", code="tier_sold_out", fields={"items[0]": "sold out"})


async def crash(request: Request) -> Response:
    raise RuntimeError("secret internals: password=hunter2")


@pytest.fixture
def app(settings: Settings) -> Starlette:
    # Probe routes on the real app: the middleware and handlers are what is tested.
    app = create_app(settings.model_copy(update={"max_body_bytes": 2048}))
    app.router.routes += [
        Route("/probe/orders", create_order, methods=["POST"]),
        Route("/probe/orders", list_orders, methods=["GET"]),
        Route("/probe/conflict", conflict),
        Route("/probe/crash", crash),
    ]
    return app


@pytest.fixture
def probe(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_unknown_path_is_404_in_error_shape(probe: TestClient) -> None:
    response = probe.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such resource."}}


def test_wrong_method_is_405_with_allow(probe: TestClient) -> None:
    response = probe.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


def test_validation_errors_name_every_field_path(probe: TestClient) -> None:
    response = probe.post(
        "/probe/orders",
        json={"email": "a@b.nl", "items": [{"tier_id": "t1", "quantity": 1},
                                           {"tier_id": "t2", "quantity": 99}], "x": 1},
    )  # fmt: skip
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"items[1].quantity", "x"}


def test_query_validation_names_the_parameter(probe: TestClient) -> None:
    response = probe.get("/probe/orders", params={"limit": "1000"})
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"query.limit"}
    assert probe.get("/probe/orders", params={"limit": "5"}).json() == {"limit": 5}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "malformed_json"),
        (b"[1, 2]", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
    ],
)
def test_malformed_json_is_400(probe: TestClient, body: bytes, code: str) -> None:
    response = probe.post(
        "/probe/orders", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_non_json_body_is_415(probe: TestClient) -> None:
    response = probe.post("/probe/orders", content=b"a=b", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_declared_oversized_body_is_413(probe: TestClient) -> None:
    response = probe.post("/probe/orders", content=b"x" * 4096,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_streamed_oversized_body_is_413(probe: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"x" * 1024

    response = probe.post("/probe/orders", content=chunks(),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_service_errors_keep_code_and_fields(probe: TestClient) -> None:
    response = probe.get("/probe/conflict")
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "tier_sold_out",
            "message": "The tier is sold out.",
            "fields": {"items[0]": "sold out"},
        }
    }


def test_unhandled_error_is_500_without_internals(
    probe: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = probe.get("/probe/crash", headers={"x-request-id": "req-crash-1"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in response.text
    assert response.headers["x-request-id"] == "req-crash-1"
    assert any("unhandled error" in record.getMessage() for record in caplog.records)


def test_request_id_is_kept_or_generated(probe: TestClient) -> None:
    assert (
        probe.get("/healthz", headers={"x-request-id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = probe.get("/healthz", headers={"x-request-id": "bad id\x01"})
    assert generated.headers["x-request-id"] != "bad id\x01"
    assert len(generated.headers["x-request-id"]) == 16


def test_every_error_body_is_json_with_code_and_message(probe: TestClient) -> None:
    for response in (probe.get("/nope"), probe.put("/healthz"), probe.get("/probe/crash")):
        body = json.loads(response.text)
        assert set(body) == {"error"}
        assert {"code", "message"} <= set(body["error"])
