"""The one error family of streamsvc, rendered in the API.md error shape.

    {"error": {"code": "tier_sold_out", "message": "...", "fields": {"items[0].quantity": "..."}}}

Services raise these; routes never build error bodies of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_core import ErrorDetails


class ServiceError(Exception):
    """An error a client can act on: an HTTP status, a machine-readable code, field paths."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.status = status or type(self).status
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})
        # Machine-readable context beside code and message, e.g. {"current_status": "live"}.
        self.details = dict(details or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, **self.details}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class Unauthenticated(ServiceError):
    status, code = 401, "unauthenticated"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class MethodNotAllowed(ServiceError):
    status, code = 405, "method_not_allowed"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(ServiceError):
    status, code = 422, "validation_error"


class RateLimited(ServiceError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, **kwargs)


class DependencyUnavailable(ServiceError):
    status, code = 503, "dependency_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, **kwargs)


def field_path(loc: Iterable[int | str]) -> str:
    """("items", 0, "quantity") -> "items[0].quantity"."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def validation_failed(errors: Iterable[ErrorDetails], prefix: str = "") -> ValidationFailed:
    """Turn pydantic errors into one 422 naming every offending field."""
    fields: dict[str, str] = {}
    for err in errors:
        loc = tuple(err["loc"])
        path = field_path(((prefix,) if prefix else ()) + loc)
        fields.setdefault(path, err["msg"])
    return ValidationFailed("The request has invalid fields.", fields=fields)
