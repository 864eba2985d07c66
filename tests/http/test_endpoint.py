"""`@endpoint`: async and synchronous handlers parse, authorise and answer alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.app import create_app
from streamsvc.errors import Forbidden, ServiceError, Unauthenticated
from streamsvc.http.endpoint import Access, Call, Guard, endpoint
from streamsvc.http.openapi import build_openapi
from streamsvc.kit.clock import FixedClock
from tests.conftest import RecordingQueue
from tests.factories import make_venue


class Note(BaseModel):
    model_config = {"extra": "forbid"}
    text: str = Field(max_length=10)
    count: int = Field(ge=1, le=10)


class Flags(BaseModel):
    loud: bool = False


class Echo(BaseModel):
    text: str
    count: int
    loud: bool
    database_says: int


@endpoint(summary="Echo a note", tags=("probe",), access=Access.public, body=Note, query=Flags,
          response=Echo, status=201)  # fmt: skip
async def echo(call: Call, body: Note, query: Flags) -> Echo:
    with pytest.raises(RuntimeError):
        call.session  # noqa: B018  (an async handler is in no unit of work of its own)
    one = await call.in_unit_of_work(
        lambda uow: int(uow.session.execute(text("SELECT 1")).one()[0])
    )
    return Echo(text=body.text, count=body.count, loud=query.loud, database_says=one)


def _knock(request: Request) -> str:
    who = request.headers.get("x-knock")
    if not who:
        raise Unauthenticated("Knock first.", code="missing_knock")
    return who


KNOCK = Guard(scheme="knock", description="Who knocks.", check=_knock)


@endpoint(summary="Who knocked (async)", tags=("probe",), access=KNOCK, body=Note)
async def knocked(call: Call, body: Note) -> dict[str, Any]:
    return {"who": KNOCK.of(call), "text": body.text}


@endpoint(summary="Who knocked (in a unit of work)", tags=("probe",), access=KNOCK)
def knocked_sync(call: Call) -> dict[str, Any]:
    return {"who": KNOCK.of(call), "database_says": call.session.execute(text("SELECT 2")).one()[0]}


@endpoint(summary="Which venue calls", tags=("probe",), access=Access.admin)
async def whose(call: Call) -> dict[str, Any]:
    return {"venue_id": call.venue_id}


@endpoint(summary="Nothing to say", tags=("probe",), access=Access.public, status=204)
async def nothing(call: Call) -> None:
    return None


@endpoint(summary="Raw bytes", tags=("probe",), access=Access.public, body=bytes)
def raw(call: Call, body: bytes) -> dict[str, Any]:
    return {"length": len(body)}


class HookAnswer(BaseModel):
    refused: str | None


def _refusal(error: ServiceError) -> HookAnswer:
    return HookAnswer(refused=error.code)


@endpoint(summary="A hook answering in its own protocol", tags=("probe",), access=Access.public,
          body=Note, response=HookAnswer, refusal=_refusal)  # fmt: skip
async def hook(call: Call, body: Note) -> HookAnswer:
    if body.count > 5:
        raise Forbidden("Too many.", code="too_many")
    return HookAnswer(refused=None)


PROBES = [
    Route("/probe/echo", echo, methods=["POST"]),
    Route("/probe/knocked", knocked, methods=["POST"]),
    Route("/probe/knocked-sync", knocked_sync, methods=["GET"]),
    Route("/probe/whose", whose, methods=["GET"]),
    Route("/probe/nothing", nothing, methods=["DELETE"]),
    Route("/probe/raw", raw, methods=["POST"]),
    Route("/probe/hook", hook, methods=["POST"]),
]


@pytest.fixture
def app(settings: Settings, clock: FixedClock, queue: RecordingQueue) -> Starlette:
    app = create_app(settings.model_copy(update={"max_body_bytes": 2048}), clock, queue=queue)
    app.router.routes += PROBES
    return app


@pytest.fixture
def probe(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_an_async_handler_gets_its_inputs_and_a_unit_of_work_on_request(probe: TestClient) -> None:
    response = probe.post("/probe/echo", params={"loud": "true"}, json={"text": "hi", "count": 2})
    assert response.status_code == 201, response.text
    assert response.json() == {"text": "hi", "count": 2, "loud": True, "database_says": 1}


def test_an_async_handler_names_every_invalid_field(probe: TestClient) -> None:
    response = probe.post("/probe/echo", json={"text": "x" * 11, "count": 0, "extra": 1})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"text", "count", "extra"}
    query = probe.post("/probe/echo", params={"loud": "maybe"}, json={"text": "a", "count": 1})
    assert query.status_code == 422
    assert set(query.json()["error"]["fields"]) == {"query.loud"}
    nul = probe.post("/probe/echo", json={"text": "a\x00", "count": 1})
    assert nul.status_code == 422 and set(nul.json()["error"]["fields"]) == {"text"}


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"[1]", "application/json", 400, "malformed_json"),
        (b"text=1", "text/plain", 415, "unsupported_media_type"),
        (b"x" * 4096, "application/json", 413, "payload_too_large"),
    ],
)
def test_an_async_handler_refuses_bodies_as_a_synchronous_one_does(
    probe: TestClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    for path in ("/probe/echo", "/probe/hook"):  # a refusal hook still answers these as errors
        response = probe.post(path, content=content, headers={"content-type": content_type})
        assert response.status_code == status, path
        assert response.json()["error"]["code"] == code


def test_a_guard_checks_the_caller_before_the_body(probe: TestClient) -> None:
    unknown = probe.post("/probe/knocked", json={"text": "x" * 50})
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "missing_knock"
    invalid = probe.post("/probe/knocked", json={"text": "x" * 50}, headers={"x-knock": "ann"})
    assert invalid.status_code == 422
    ok = probe.post("/probe/knocked", json={"text": "hi", "count": 1}, headers={"x-knock": "ann"})
    assert ok.json() == {"who": "ann", "text": "hi"}
    sync = probe.get("/probe/knocked-sync", headers={"x-knock": "bob"})
    assert sync.json() == {"who": "bob", "database_says": 2}
    assert probe.get("/probe/knocked-sync").status_code == 401


def test_an_async_handler_can_need_a_venue_key(probe: TestClient) -> None:
    assert probe.get("/probe/whose").status_code == 401
    venue = make_venue(probe)
    assert probe.get("/probe/whose", headers=venue.headers).json() == {"venue_id": venue.id}


def test_none_is_an_empty_answer_and_bytes_stay_raw(probe: TestClient) -> None:
    gone = probe.delete("/probe/nothing")
    assert gone.status_code == 204 and gone.content == b""
    body = b'{"signed": "exactly these bytes"}  '
    assert probe.post("/probe/raw", content=body).json() == {"length": len(body)}


def test_a_refusal_hook_answers_in_its_own_protocol(probe: TestClient) -> None:
    assert probe.post("/probe/hook", json={"text": "a", "count": 1}).json() == {"refused": None}
    refused = probe.post("/probe/hook", json={"text": "a", "count": 6})
    assert refused.status_code == 200 and refused.json() == {"refused": "too_many"}
    invalid = probe.post("/probe/hook", json={"text": "a"})
    assert invalid.status_code == 200 and invalid.json() == {"refused": "validation_error"}


def test_the_document_follows_the_declarations(app: Starlette) -> None:
    spec = build_openapi(app.routes, title="probe", version="0")
    assert spec["components"]["securitySchemes"]["knock"]["description"] == "Who knocks."
    knocked_doc = spec["paths"]["/probe/knocked"]["post"]
    assert knocked_doc["security"] == [{"knock": []}]
    assert {"401", "422"} <= set(knocked_doc["responses"])
    echo_doc = spec["paths"]["/probe/echo"]["post"]
    assert echo_doc["operationId"] == "post_echo"
    assert {"201", "400", "413", "415", "422"} == set(echo_doc["responses"])
    assert [p["name"] for p in echo_doc["parameters"]] == ["loud"]
    # The hook's refusals are 200 answers: only the transport errors are documented.
    assert set(spec["paths"]["/probe/hook"]["post"]["responses"]) == {"200", "400", "413", "415"}
    raw_doc = spec["paths"]["/probe/raw"]["post"]
    assert "requestBody" not in raw_doc and set(raw_doc["responses"]) == {"200", "413", "415"}
    assert set(spec["paths"]["/probe/nothing"]["delete"]["responses"]) == {"204"}
