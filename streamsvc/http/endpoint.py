"""What every route needs: bounded input parsing, a unit of work, JSON output.

Routes are async; they parse the request here, then run the (synchronous) service
inside a unit of work on the thread pool, so the event loop never waits on SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from streamsvc.db import Database, UnitOfWork
from streamsvc.errors import BadRequest, UnsupportedMediaType, validation_failed

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


async def read_body(request: Request, model: type[M]) -> M:
    """Parse a JSON body into `model`: 415 not JSON, 400 malformed, 422 invalid fields."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
        raise UnsupportedMediaType("Send the request body as application/json.")
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request body is not valid JSON.", code="malformed_json") from exc
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code="malformed_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc.errors()) from exc


def read_query(request: Request, model: type[M]) -> M:
    """Parse query parameters into `model` (repeated keys become lists); 422 invalid."""
    data: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc.errors(), prefix="query") from exc


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
