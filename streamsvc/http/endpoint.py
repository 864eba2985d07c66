"""What every route needs: bounded input parsing, a unit of work, JSON output.

Routes are async; they parse the request here, then run the (synchronous) service
inside a unit of work on the thread pool, so the event loop never waits on SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

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
    UnsupportedMediaType,
    ValidationFailed,
    field_path,
    validation_failed,
)
from streamsvc.http.callers import Staff
from streamsvc.http.openapi import Operation
from streamsvc.kit.clock import Clock

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


async def read_body(request: Request, model: type[M]) -> M:
    """Parse a JSON body into `model`: 415 not JSON, 400 malformed, 422 invalid fields."""
    return _validate_body(await _raw_body(request), model)


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


def _refuse_nul(value: Any, loc: tuple[int | str, ...]) -> None:
    """PostgreSQL text cannot hold NUL: refuse it at the door, naming the field."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationFailed(
                "Text may not contain NUL characters.",
                fields={field_path(loc): "contains a NUL character"},
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, loc)
            _refuse_nul(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, (*loc, index))


async def in_unit_of_work(request: Request, work: Callable[[UnitOfWork], T]) -> T:
    """Run `work` in a committed unit of work on the thread pool."""
    database: Database = request.app.state.resources.database

    def run() -> T:
        with database.unit_of_work() as uow:
            return work(uow)

    return await run_in_threadpool(run)


def json_response(
    payload: BaseModel | dict[str, Any] | list[Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    content = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return JSONResponse(content, status_code=status_code, headers=headers)


# --- Declarative endpoints --------------------------------------------------------


class Access(StrEnum):
    """Who may call an endpoint."""

    public = "public"
    platform = "platform"  # the operator's key from STREAMSVC_PLATFORM_KEY
    staff = "staff"  # any key of a venue: admin or finance
    admin = "admin"  # a venue's admin key


@dataclass
class Call:
    """What a handler receives: the unit of work, the caller and the request's context."""

    uow: UnitOfWork
    request: Request
    clock: Clock
    settings: Settings
    staff: Staff | None = None

    @property
    def session(self) -> Session:
        return self.uow.session

    @property
    def venue_id(self) -> str:
        assert self.staff is not None, "only staff endpoints have a venue"
        return self.staff.venue_id

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value


_ERRORS_BY_ACCESS = {
    Access.public: (),
    Access.platform: (401,),
    Access.staff: (401, 403),
    Access.admin: (401, 403),
}


def endpoint(
    *,
    summary: str,
    tags: tuple[str, ...],
    access: Access,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | str | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[[Request], Any]]:
    """Turn a synchronous handler `fn(call, [body=], [query=])` into a Starlette endpoint.

    The caller is authenticated first (401/403), then the query and body are
    validated (400/415/422), then the handler runs in a unit of work on the thread
    pool; the unit commits after it returns. A returned model is sent as JSON with
    `status`; a returned Response is sent as it is.
    """

    def wrap(fn: Callable[..., Any]) -> Callable[[Request], Any]:
        async def asgi_endpoint(request: Request) -> Response:
            raw = await _raw_body(request) if body is not None else b""
            resources = request.app.state.resources

            def work(uow: UnitOfWork) -> Any:
                call = Call(uow, request, resources.clock, resources.settings)
                if access is Access.platform:
                    resources.authenticator.platform(request.headers, resources.settings)
                elif access in (Access.staff, Access.admin):
                    call.staff = resources.authenticator.staff(
                        uow.session, request.headers, call.clock.now()
                    )
                    if access is Access.admin and call.staff.role != "admin":
                        raise Forbidden("This needs an admin key.", code="admin_key_required")
                kwargs: dict[str, Any] = {}
                if query is not None:
                    kwargs["query"] = read_query(request, query)
                if body is not None:
                    kwargs["body"] = _validate_body(raw, body)
                return fn(call, **kwargs)

            result = await in_unit_of_work(request, work)
            if isinstance(result, Response):
                return result
            return json_response(result, status)

        statuses = (*_ERRORS_BY_ACCESS[access], *errors)
        if body is not None:
            statuses += (400, 413, 415, 422)
        if query is not None:
            statuses += (422,)
        asgi_endpoint.__operation__ = Operation(  # type: ignore[attr-defined]
            summary=summary,
            tags=tags,
            body=body,
            query=query,
            responses={status: response},
            errors=tuple(sorted(set(statuses))),
            security=None if access is Access.public else access.value,
        )
        asgi_endpoint.__name__ = fn.__name__
        asgi_endpoint.__doc__ = fn.__doc__
        return asgi_endpoint

    return wrap


async def _raw_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
        raise UnsupportedMediaType("Send the request body as application/json.")
    return await request.body()


def _validate_body(raw: bytes, model: type[M]) -> M:
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request body is not valid JSON.", code="malformed_json") from exc
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code="malformed_json")
    _refuse_nul(data, ())
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc.errors()) from exc
