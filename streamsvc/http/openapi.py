"""OpenAPI 3.1 generated from the routes and their pydantic schemas.

A JSON API endpoint is documented by `@endpoint` (streamsvc/http/endpoint.py); a raw
Starlette route (authorize, the operational probes) declares its contract with
`@operation(...)`. The document is built from the app's routes, so an undocumented
route shows up as one without a summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from starlette.routing import BaseRoute, Mount, Route

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"
# What every path parameter is (an id, a ticket code, a party type); `@endpoint`
# answers 404 for anything else.
PATH_PARAMETER = r"^[A-Za-z0-9_-]{1,40}$"


class ErrorDetail(BaseModel):
    model_config = {"extra": "allow"}  # context such as current_status
    code: str = Field(description="Machine-readable: `validation_error`, `sold_out`, …")
    message: str = Field(description="For people: what went wrong, in English.")
    fields: dict[str, str] | None = Field(
        default=None,
        description="The offending fields by path (`items[0].quantity`), each with what is wrong.",
    )


class ErrorBody(BaseModel):
    """The one error shape of the API."""

    error: ErrorDetail = Field(
        description="The error; further keys give context (`current_status`, `minimum_amount`)."
    )


@dataclass(frozen=True)
class Operation:
    summary: str
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None  # request headers, named by their aliases
    description: str | None = None  # what a client must know beyond the summary
    # status -> response model, or a media type string for non-JSON bodies
    responses: dict[int, type[BaseModel] | str | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    security: str | None = None  # a scheme name from SECURITY_SCHEMES, None for public
    security_scheme: dict[str, Any] | None = None  # the scheme, when not in SECURITY_SCHEMES


SECURITY_SCHEMES: dict[str, Any] = {
    "platform": {"type": "http", "scheme": "bearer", "description": "The platform key."},
    "staff": {"type": "http", "scheme": "bearer", "description": "A venue's API key."},
    "admin": {"type": "http", "scheme": "bearer", "description": "A venue's admin API key."},
}


def operation(**kwargs: Any) -> Callable[[F], F]:
    """Attach an `Operation` to a raw Starlette endpoint (JSON API routes use `@endpoint`)."""

    def attach(fn: F) -> F:
        fn.__operation__ = Operation(**kwargs)  # type: ignore[attr-defined]
        return fn

    return attach


def _walk(routes: Iterable[BaseRoute], prefix: str = "") -> Iterable[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Route) and route.include_in_schema:
            yield prefix + route.path, route
        elif isinstance(route, Mount):
            yield from _walk(route.routes or [], prefix + route.path)


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        self.components.update(schema.pop("$defs", {}))
        self.components[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}

    def parameters(self, place: str, model: type[BaseModel] | None) -> list[dict[str, Any]]:
        """The fields of a query or headers model as parameters, named by their aliases."""
        if model is None:
            return []
        fields = model.model_json_schema(ref_template=REF)
        self.components.update(fields.pop("$defs", {}))
        required = set(fields.get("required", []))
        return [
            {"name": name, "in": place, "required": name in required, "schema": sub}
            | ({"description": sub["description"]} if "description" in sub else {})
            | ({"deprecated": True} if sub.get("deprecated") else {})
            for name, sub in fields.get("properties", {}).items()
        ]


def build_openapi(routes: Iterable[BaseRoute], *, title: str, version: str) -> dict[str, Any]:
    schemas = _Schemas()
    error_ref = schemas.ref(ErrorBody, "serialization")
    routes = list(routes)
    paths: dict[str, dict[str, Any]] = {}
    for path, route in _walk(routes):
        op: Operation | None = getattr(route.endpoint, "__operation__", None)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            doc: dict[str, Any] = {"summary": op.summary if op else route.name, "responses": {}}
            params = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": PATH_PARAMETER, "maxLength": 40},
                }
                for name in route.param_convertors
            ]
            if op is not None:
                doc["tags"] = list(op.tags)
                doc["operationId"] = f"{method.lower()}_{route.name}"
                if op.description:
                    doc["description"] = op.description
                params += schemas.parameters("query", op.query)
                params += schemas.parameters("header", op.headers)
                if op.body is not None:
                    doc["requestBody"] = {
                        "required": True,
                        "content": {
                            "application/json": {"schema": schemas.ref(op.body, "validation")}
                        },
                    }
                for status, model in op.responses.items():
                    response: dict[str, Any] = {"description": str(status)}
                    if isinstance(model, str):
                        response["content"] = {model: {"schema": {"type": "string"}}}
                    elif model is not None:
                        response["content"] = {
                            "application/json": {"schema": schemas.ref(model, "serialization")}
                        }
                    doc["responses"][str(status)] = response
                for status in op.errors:
                    doc["responses"][str(status)] = {
                        "description": "error",
                        "content": {"application/json": {"schema": error_ref}},
                    }
                if op.security:
                    doc["security"] = [{op.security: []}]
            if not doc["responses"]:
                doc["responses"]["200"] = {"description": "OK"}
            if params:
                doc["parameters"] = params
            paths.setdefault(path, {})[method.lower()] = doc
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": _security_schemes(routes)},
    }


def _security_schemes(routes: list[BaseRoute]) -> dict[str, Any]:
    """The common schemes, and those an endpoint's own guard brings (the viewing token)."""
    schemes = dict(SECURITY_SCHEMES)
    for _, route in _walk(routes):
        op: Operation | None = getattr(route.endpoint, "__operation__", None)
        if op is not None and op.security and op.security_scheme is not None:
            schemes.setdefault(op.security, op.security_scheme)
    return schemes
