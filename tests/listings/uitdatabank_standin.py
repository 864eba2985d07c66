"""A stand-in for UiTdatabank: its token endpoint and the Entry API calls we make, served
for real (Starlette under uvicorn, on a free port, in the test process).

It does what the real one does to our requests, as documented on 2026-08-20: the token
endpoint takes a form-encoded client_credentials grant for one client id and secret
and answers a Bearer token; the Entry API refuses a request without a token it issued
(401), checks the body against the event model (required fields, one event type of
the snapshot, calendarType single with one subEvent whose dates carry their UTC offset
and end after they start, the attendance mode and its location, the price info, the
booking info, the status) and answers 400 with problem+json naming each problem;
POST /events answers 201 with a new id, PUT /events/{id} 200, PUT .../status 204.
Every request is recorded with what was found wrong with it; `fail_next` makes the
next requests answer that status instead (a 503 outage), and `revoke_tokens` expires
the tokens issued so far.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc.catalog.event_types import known
from streamsvc.embedded import free_port

TOKEN_PATH = "/realms/uitid/protocol/openid-connect/token"
LANGUAGES = {"nl", "fr", "de", "en"}
# RFC 3339 with an explicit offset (UiTdatabank reads local times with their offset).
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
PLACE = re.compile(r"^https?://[^/]+/places/[0-9a-f-]{36}$")
STATUSES = {"Available", "TemporarilyUnavailable", "Unavailable"}


@dataclass
class Received:
    method: str
    path: str
    body: Any
    authorized: bool
    problems: list[str]
    answered: int


@dataclass
class StandIn:
    client_id: str = "streamsvc-test"
    client_secret: str = "not-the-real-secret"
    url: str = ""
    received: list[Received] = field(default_factory=list)
    token_requests: int = 0
    fail_next: list[int] = field(default_factory=list)
    events: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, Any] = field(default_factory=dict)
    _tokens: set[str] = field(default_factory=set)

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def calls(self) -> list[tuple[str, str, int]]:
        return [(r.method, r.path, r.answered) for r in self.received]

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route(TOKEN_PATH, self._token, methods=["POST"]),
            Route("/events", self._create, methods=["POST"]),
            Route("/events/{uid}", self._update, methods=["PUT"]),
            Route("/events/{uid}/status", self._status, methods=["PUT"]),
        ])  # fmt: skip

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (
            request.headers.get("content-type", "").split(";")[0]
            != ("application/x-www-form-urlencoded")
            or form.get("grant_type") != "client_credentials"
        ):
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id, self.client_secret
        ):  # fmt: skip
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = uuid.uuid4().hex
        self._tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    async def _receive(self, request: Request) -> tuple[Any, Response | None, Received]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        authorization = request.headers.get("authorization", "")
        authorized = authorization.startswith("Bearer ") and authorization[7:] in self._tokens
        record = Received(request.method, request.url.path, body, authorized, [], 0)
        self.received.append(record)
        if self.fail_next:
            record.answered = self.fail_next.pop(0)
            return body, _problem(record.answered, "Service Unavailable", []), record
        if not authorized:
            record.answered = 401
            return body, _problem(401, "Unauthorized", []), record
        return body, None, record

    async def _create(self, request: Request) -> Response:
        body, refused, record = await self._receive(request)
        if refused is not None:
            return refused
        record.problems = event_problems(body)
        if record.problems:
            record.answered = 400
            return _problem(400, "Invalid body data", record.problems)
        uid = str(uuid.uuid4())
        self.events[uid] = body
        record.answered = 201
        return JSONResponse({"id": uid, "eventId": uid, "url": f"{self.url}/events/{uid}"},
                            status_code=201)  # fmt: skip

    async def _update(self, request: Request) -> Response:
        body, refused, record = await self._receive(request)
        if refused is not None:
            return refused
        uid = request.path_params["uid"]
        if uid not in self.events:
            record.answered = 404
            return _problem(404, "Not Found", [])
        record.problems = event_problems(body)
        if record.problems:
            record.answered = 400
            return _problem(400, "Invalid body data", record.problems)
        self.events[uid] = body
        record.answered = 200
        return JSONResponse({"id": uid, "eventId": uid, "url": f"{self.url}/events/{uid}"})

    async def _status(self, request: Request) -> Response:
        body, refused, record = await self._receive(request)
        if refused is not None:
            return refused
        uid = request.path_params["uid"]
        if uid not in self.events:
            record.answered = 404
            return _problem(404, "Not Found", [])
        record.problems = status_problems(body)
        if record.problems:
            record.answered = 400
            return _problem(400, "Invalid body data", record.problems)
        self.statuses[uid] = body
        record.answered = 204
        return Response(status_code=204)


def _problem(status: int, title: str, problems: list[str]) -> JSONResponse:
    body: dict[str, Any] = {"type": "https://api.publiq.be/probs/body/invalid-data",
                            "title": title, "status": status}  # fmt: skip
    if problems:
        body["schemaErrors"] = [{"jsonPointer": "/", "error": p} for p in problems]
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _localised(value: Any, main: str) -> bool:
    return (isinstance(value, dict) and set(value) <= LANGUAGES
            and isinstance(value.get(main), str) and bool(value[main].strip()))  # fmt: skip


def _calendar(body: dict[str, Any]) -> list[str]:
    if body.get("calendarType") != "single":
        return ["calendarType must be single"]
    sub = body.get("subEvent")
    if not isinstance(sub, list) or len(sub) != 1 or not isinstance(sub[0], dict):
        return ["calendarType single needs exactly one subEvent"]
    start, end = sub[0].get("startDate"), sub[0].get("endDate")
    if not all(isinstance(v, str) and DATETIME.match(v) for v in (start, end)):
        return ["subEvent dates must be RFC 3339 date-times with their UTC offset"]
    if datetime.fromisoformat(str(end)) <= datetime.fromisoformat(str(start)):
        return ["subEvent endDate must be after startDate"]
    return []


def _prices(body: dict[str, Any], main: str) -> list[str]:
    prices = body.get("priceInfo")
    if prices is None:
        return []
    if not isinstance(prices, list) or not prices:
        return ["priceInfo must be a non-empty list"]
    found = []
    if [p.get("category") for p in prices if isinstance(p, dict)].count("base") != 1:
        found.append("priceInfo needs exactly one base price")
    names: set[str] = set()
    for price in prices:
        if not isinstance(price, dict) or price.get("category") not in ("base", "tariff"):
            found.append("priceInfo category must be base or tariff")
            continue
        amount = price.get("price")
        if not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0:
            found.append("priceInfo price must be a number of at least 0")
        if price.get("priceCurrency", "EUR") != "EUR":
            found.append("priceInfo priceCurrency must be EUR")
        if price["category"] == "tariff":
            if not _localised(price.get("name"), main):
                found.append("a tariff needs a name in the main language")
            elif price["name"][main] in names:
                found.append("tariff names must be unique")
            else:
                names.add(price["name"][main])
    return found


def event_problems(body: Any) -> list[str]:
    """What UiTdatabank would refuse in an event body (empty: well-formed)."""
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    main = body.get("mainLanguage")
    if main not in LANGUAGES:
        return ["mainLanguage must be one of nl, fr, de, en"]
    found = []
    if not _localised(body.get("name"), main):
        found.append("name needs a value in the main language")
    if "description" in body and not _localised(body["description"], main):
        found.append("description needs a value in the main language")
    terms = body.get("terms")
    types = [t for t in terms if isinstance(t, dict) and t.get("domain", "eventtype") == "eventtype"
             ] if isinstance(terms, list) else []  # fmt: skip
    if len(types) != 1 or not known(str(types[0].get("id"))):
        found.append("terms need exactly one known eventtype")
    found += _calendar(body)
    mode = body.get("attendanceMode", "offline")
    if mode not in ("online", "offline", "mixed"):
        found.append("attendanceMode must be online, offline or mixed")
    location = body.get("location")
    if mode != "online" and not (isinstance(location, dict)
                                 and PLACE.match(str(location.get("@id", "")))):  # fmt: skip
        found.append("location must reference a place unless the event is online")
    if "onlineUrl" in body and (mode == "offline" or not str(body["onlineUrl"]).startswith("http")):
        found.append("onlineUrl needs an online or mixed event and must be a URL")
    found += _prices(body, main)
    booking = body.get("bookingInfo")
    if isinstance(booking, dict) and "url" in booking and not booking.get("urlLabel"):
        found.append("bookingInfo url needs a urlLabel")
    found += status_problems(body.get("status", {"type": "Available"}))
    if body.get("workflowStatus", "DRAFT") not in ("DRAFT", "READY_FOR_VALIDATION"):
        found.append("workflowStatus must be DRAFT or READY_FOR_VALIDATION")
    return found


def status_problems(status: Any) -> list[str]:
    if not isinstance(status, dict) or status.get("type") not in STATUSES:
        return ["status type must be Available, TemporarilyUnavailable or Unavailable"]
    if "reason" in status and (status["type"] == "Available" or not isinstance(
            status["reason"], dict) or not set(status["reason"]) <= LANGUAGES):  # fmt: skip
        return ["a status reason is localised and only for an unavailable event"]
    return []


@contextmanager
def running_standin() -> Iterator[StandIn]:
    standin = StandIn()
    port = free_port()
    standin.url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(standin.app(), host="127.0.0.1", port=port, log_config=None,
                            access_log=False, lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the stand-in did not start"
        time.sleep(0.02)
    try:
        yield standin
    finally:
        server.should_exit = True
        thread.join(timeout=20)
