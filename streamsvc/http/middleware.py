"""Pure-ASGI middleware: request id, access log and metrics; request body size limit."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamsvc.errors import PayloadTooLarge, ServiceError
from streamsvc.http.metrics import HttpMetrics
from streamsvc.kit.context import request_id_var

access_log = logging.getLogger("streamsvc.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MASK = "{?}"
INTERNAL_ERROR = ServiceError(
    "Something went wrong on our side; quote the X-Request-ID header when reporting it.",
    code="internal_error",
    status=500,
)


def _error_response(error: ServiceError) -> tuple[Message, Message]:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    return (
        {"type": "http.response.start", "status": error.status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


def route_words(routes: Iterable[object]) -> frozenset[str]:
    """Every literal segment of the routes' templates (`v1`, `tickets`, `sessions`)."""
    words: set[str] = set()
    for route in routes:
        path = getattr(route, "path", "")
        words.update(s for s in str(path).split("/") if s and "{" not in s)
        words.update(route_words(getattr(route, "routes", None) or ()))
    return frozenset(words)


def logged_path(scope: Scope, words: frozenset[str]) -> str:
    """The request's path as the access log shows it: the route template when a route
    matched (`/v1/tickets/{code}/sessions`), so that no path parameter (a ticket code
    is a bearer secret) and no query string (an order or viewing token may travel
    there) reaches the log. A path no route matched keeps only the segments that are
    `words` of some route; the others (an id, a code, a token) are masked."""
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str) and template:
        return template
    segments = str(scope.get("path", "")).split("/")
    return "/".join(s if not s or s in words else MASK for s in segments)


class RequestContextMiddleware:
    """Give every request an id (kept from X-Request-ID when sane), log and count it."""

    def __init__(
        self, app: ASGIApp, metrics: HttpMetrics, quiet_paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.quiet_paths = quiet_paths  # hot paths: logged at debug only
        self._words: frozenset[str] | None = None  # of the app's routes, on first use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(8)
        token = request_id_var.set(request_id)
        status = 500
        status_sent = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The last boundary: log the internals, show the client none of them.
            access_log.exception("unhandled error")
            if status_sent:
                raise
            status = 500
            for message in _error_response(INTERNAL_ERROR):
                await send_with_id(message)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            access_log.log(
                logging.DEBUG if scope["path"] in self.quiet_paths else logging.INFO,
                "%s %s",
                scope["method"],
                logged_path(scope, self._route_words(scope)),
                extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)

    def _route_words(self, scope: Scope) -> frozenset[str]:
        if self._words is None:  # the routes are the app's, known once it serves
            self._words = route_words(getattr(scope.get("app"), "routes", None) or ())
        return self._words


class BodySizeLimitMiddleware:
    """Answer 413 when a request body is larger than the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes.")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            for message in _error_response(too_large):
                await send(message)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge as exc:
            if response_started:
                raise
            for message in _error_response(exc):
                await send(message)
