"""The one way to write a JSON API route: `@endpoint` parses, authorises, runs the
unit of work and documents the operation.

A synchronous handler runs inside a unit of work on the thread pool, so the event
loop never waits on SQL. An async handler (one that awaits Redis) runs on the event
loop and opens a unit of work only if it needs the database:
`await call.in_unit_of_work(work)`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from config.settings import Settings
from streamsvc.db import Database, UnitOfWork
from streamsvc.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    UnsupportedMediaType,
    ValidationFailed,
    field_path,
    validation_failed,
)
from streamsvc.http.callers import Staff
from streamsvc.http.openapi import PATH_PARAMETER, Operation
from streamsvc.kit import jsontext
from streamsvc.kit.clock import Clock

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
P = TypeVar("P")

Payload = BaseModel | dict[str, Any] | list[Any]


async def read_body(request: Request, model: type[M]) -> M:
    """Parse a JSON body into `model`: 415 not JSON, 400 malformed, 422 invalid fields.

    For raw Starlette routes only; an `@endpoint` declares `body=` instead.
    """
    return _validate(_json_object(await _raw_body(request)), model)


def read_query(request: Request, model: type[M]) -> M:
    """Parse query parameters into `model` (repeated keys become lists); 422 invalid."""
    data: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    _refuse_nul(data, ("query",))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc.errors(), prefix="query") from exc


def read_headers(request: Request, model: type[M]) -> M:
    """Parse the request headers `model` names (by alias, case-insensitively); 422 invalid.

    Only the declared headers are read: every request carries many others.
    """
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        header = info.alias or name
        value = request.headers.get(header)
        if value is not None:
            data[header] = value
    _refuse_nul(data, ("header",))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc.errors(), prefix="header") from exc


def _refuse_nul(value: Any, loc: tuple[int | str, ...]) -> None:
    """PostgreSQL text cannot hold NUL or a lone surrogate: refuse them at the door,
    naming the field."""
    try:
        jsontext.refuse_unstorable(value)
    except jsontext.UnsafeJson as exc:
        raise ValidationFailed(str(exc), fields={field_path((*loc, *exc.loc)): exc.reason}) from exc


_PATH_PARAMETER = re.compile(PATH_PARAMETER)


def _check_path(request: Request) -> None:
    """Every id in a path has the shape of ours (at most 40 letters, digits, `_`, `-`):
    anything else names nothing, so 404 before it reaches a query or a stored key."""
    for value in request.path_params.values():
        if not isinstance(value, str) or not _PATH_PARAMETER.fullmatch(value):
            raise NotFound("No such object.")


async def in_unit_of_work(request: Request, work: Callable[[UnitOfWork], T]) -> T:
    """Run `work` in a committed unit of work on the thread pool."""
    database: Database = request.app.state.resources.database

    def run() -> T:
        with database.unit_of_work() as uow:
            return work(uow)

    return await run_in_threadpool(run)


def json_response(
    payload: Payload, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    content = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return JSONResponse(content, status_code=status_code, headers=headers)


# --- Declarative endpoints --------------------------------------------------------


class Access(StrEnum):
    """Who may call an endpoint, by key."""

    public = "public"
    platform = "platform"  # the operator's key from STREAMSVC_PLATFORM_KEY
    staff = "staff"  # any key of a venue: admin or finance
    admin = "admin"  # a venue's admin key


@dataclass(frozen=True, eq=False)
class Guard(Generic[P]):
    """A caller check a domain brings, since http imports no domain (the viewing token).

    `check` reads the request without I/O and returns who calls, or raises a
    ServiceError (401/403); it runs where a key would be checked, before the body is
    validated. The handler reads the caller back with `guard.of(call)`.
    """

    scheme: str  # the OpenAPI security scheme's name
    description: str
    check: Callable[[Request], P]
    errors: tuple[int, ...] = (401,)

    def of(self, call: Call) -> P:
        if call.guard is not self:
            raise RuntimeError(f"this endpoint is not guarded by {self.scheme!r}")
        return cast(P, call.caller)


@dataclass
class Call:
    """What a handler receives: the caller, the request's context and, for a
    synchronous handler, the unit of work it runs in."""

    request: Request
    clock: Clock
    settings: Settings
    staff: Staff | None = None
    guard: Guard[Any] | None = None
    caller: object = None  # what `guard` found; read it with `guard.of(call)`
    _uow: UnitOfWork | None = field(default=None, repr=False)

    @property
    def uow(self) -> UnitOfWork:
        if self._uow is None:
            raise RuntimeError("an async handler opens one: await call.in_unit_of_work(work)")
        return self._uow

    @property
    def session(self) -> Session:
        return self.uow.session

    @property
    def venue_id(self) -> str:
        assert self.staff is not None, "only staff endpoints have a venue"
        return self.staff.venue_id

    @property
    def resources(self) -> Any:
        """The process's resources (Redis clients, signer, queue), built in the lifespan."""
        return self.request.app.state.resources

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    async def in_unit_of_work(self, work: Callable[[UnitOfWork], T]) -> T:
        """From an async handler: run `work` in its own committed unit of work."""
        if self._uow is not None:
            raise RuntimeError("a synchronous handler already runs in a unit of work")
        return await in_unit_of_work(self.request, work)


_ERRORS_BY_ACCESS = {
    Access.public: (),
    Access.platform: (401,),
    Access.staff: (401, 403),
    Access.admin: (401, 403),
}


class _MalformedJson(BadRequest):
    code = "malformed_json"


# Errors about the request itself rather than what it asks: never answered by `refusal`.
_TRANSPORT_ERRORS = (UnsupportedMediaType, PayloadTooLarge, _MalformedJson)


def endpoint(
    *,
    summary: str,
    tags: tuple[str, ...],
    access: Access | Guard[Any],
    body: type[BaseModel] | type[bytes] | None = None,
    query: type[BaseModel] | None = None,
    headers: type[BaseModel] | None = None,
    response: type[BaseModel] | str | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    refusal: Callable[[ServiceError], Payload] | None = None,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[[Request], Awaitable[Response]]]:
    """Turn a handler `fn(call, [body=], [query=], [headers=])` into a documented
    Starlette endpoint.

    In order: the body must be JSON (415) and within the size limit (413); the caller
    is authenticated (401/403); every path parameter must have the shape of an id (404);
    the query is validated (422), then the headers `headers` declares by alias (422;
    a secret such as an order token is better sent there than in a logged URL), then
    the body (400 malformed or nested deeper than jsontext.MAX_DEPTH, 422 invalid,
    naming every field path); then the handler runs. `description` is the operation's
    OpenAPI description: what a client must know beyond the summary. A
    synchronous handler runs in a unit of work on the thread pool that commits after
    it returns; an async one runs on the event loop. `body=bytes` hands the handler
    the raw bytes (a signed webhook). The handler returns a model, dict or list (sent
    as JSON with `status`), None (an empty `status` answer) or a Response (sent as
    it is).

    `refusal` is for callers with their own protocol (media-server hooks): every
    ServiceError past the transport checks (415/413/400) is answered 200 with
    `refusal(error)` instead of the error shape.
    """

    inputs = _Inputs(access, body, query, headers)

    def wrap(fn: Callable[..., Any]) -> Callable[[Request], Awaitable[Response]]:
        run = _run_async if inspect.iscoroutinefunction(fn) else _run_in_unit_of_work

        async def asgi_endpoint(request: Request) -> Response:
            raw = await _raw_body(request) if body is not None else b""
            try:
                result = await run(fn, request, inputs, raw)
            except ServiceError as exc:
                if refusal is None or isinstance(exc, _TRANSPORT_ERRORS):
                    raise
                return json_response(refusal(exc))
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(status_code=status)
            return json_response(result, status)

        asgi_endpoint.__operation__ = _document(  # type: ignore[attr-defined]
            inputs, summary=summary, tags=tags, response=response, status=status,
            errors=errors, refuses_in_protocol=refusal is not None, description=description,
        )  # fmt: skip
        asgi_endpoint.__name__ = fn.__name__
        asgi_endpoint.__doc__ = fn.__doc__
        return asgi_endpoint

    return wrap


@dataclass(frozen=True)
class _Inputs:
    """What an endpoint reads: its caller, query, headers and body."""

    access: Access | Guard[Any]
    body: type[BaseModel] | type[bytes] | None
    query: type[BaseModel] | None
    headers: type[BaseModel] | None = None

    def parse(self, request: Request, raw: bytes) -> dict[str, Any]:
        """The handler's keyword arguments: the query first (422), then the body (400/422)."""
        kwargs: dict[str, Any] = {}
        _check_path(request)
        if self.query is not None:
            kwargs["query"] = read_query(request, self.query)
        if self.headers is not None:
            kwargs["headers"] = read_headers(request, self.headers)
        if self.body is bytes:
            kwargs["body"] = raw
        elif self.body is not None:
            kwargs["body"] = _validate(_json_object(raw), cast(type[BaseModel], self.body))
        return kwargs


async def _run_in_unit_of_work(
    fn: Callable[..., Any], request: Request, inputs: _Inputs, raw: bytes
) -> Any:
    resources = request.app.state.resources

    def work(uow: UnitOfWork) -> Any:
        call = Call(request, resources.clock, resources.settings, _uow=uow)
        _authorise(call, inputs.access, uow.session)
        return fn(call, **inputs.parse(request, raw))

    return await in_unit_of_work(request, work)


async def _run_async(fn: Callable[..., Any], request: Request, inputs: _Inputs, raw: bytes) -> Any:
    resources = request.app.state.resources
    call = Call(request, resources.clock, resources.settings)
    access = inputs.access
    if access in (Access.staff, Access.admin):  # a key is checked against the database
        await in_unit_of_work(request, lambda uow: _authorise(call, access, uow.session))
    else:
        _authorise(call, access, None)
    return await fn(call, **inputs.parse(request, raw))


def _authorise(call: Call, access: Access | Guard[Any], session: Session | None) -> None:
    """Who calls: the platform key, a venue's key (it needs `session`) or a guard's caller."""
    if isinstance(access, Guard):
        call.guard, call.caller = access, access.check(call.request)
        return
    authenticator = call.resources.authenticator
    if access is Access.platform:
        authenticator.platform(call.request.headers, call.settings)
    elif access in (Access.staff, Access.admin):
        assert session is not None
        call.staff = authenticator.staff(session, call.request.headers, call.clock.now())
        if access is Access.admin and call.staff.role != "admin":
            raise Forbidden("This needs an admin key.", code="admin_key_required")


def _document(
    inputs: _Inputs, *, summary: str, tags: tuple[str, ...],
    response: type[BaseModel] | str | None, status: int, errors: tuple[int, ...],
    refuses_in_protocol: bool, description: str | None = None,
) -> Operation:  # fmt: skip
    access, body, query = inputs.access, inputs.body, inputs.query
    if isinstance(access, Guard):
        statuses = access.errors
        security: str | None = access.scheme
        scheme: dict[str, Any] | None = {
            "type": "http", "scheme": "bearer", "description": access.description,
        }  # fmt: skip
    else:
        statuses, scheme = _ERRORS_BY_ACCESS[access], None
        security = None if access is Access.public else access.value
    statuses += errors
    if body is not None:
        statuses += (413, 415) if body is bytes else (400, 413, 415, 422)
    if query is not None or inputs.headers is not None:
        statuses += (422,)
    if refuses_in_protocol:  # refusals leave as 200 answers; only transport errors remain
        statuses = tuple(s for s in statuses if s in (400, 413, 415))
    return Operation(
        summary=summary,
        tags=tags,
        body=None if body is bytes else cast(type[BaseModel] | None, body),
        query=query,
        headers=inputs.headers,
        description=description,
        responses={status: response},
        errors=tuple(sorted(set(statuses))),
        security=security,
        security_scheme=scheme,
    )


async def _raw_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
        raise UnsupportedMediaType("Send the request body as application/json.")
    return await request.body()


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = jsontext.loads(raw) if raw else None
    except jsontext.UnsafeJson as exc:
        raise _MalformedJson(f"The request body is not acceptable JSON: {exc}.") from exc
    except ValueError as exc:  # UnicodeDecodeError is one
        raise _MalformedJson("The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise _MalformedJson("The request body must be a JSON object.")
    return data


def _validate(data: dict[str, Any], model: type[M]) -> M:
    _refuse_nul(data, ())
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc.errors()) from exc
