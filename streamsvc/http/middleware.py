"""Pure-ASGI middleware: request id, access log and metrics; request body size limit."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from streamsvc.errors import PayloadTooLarge, ServiceError
from streamsvc.http.metrics import HttpMetrics
from streamsvc.kit.context import request_id_var

access_log = logging.getLogger("streamsvc.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
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


class RequestContextMiddleware:
    """Give every request an id (kept from X-Request-ID when sane), log and count it."""

    def __init__(
        self, app: ASGIApp, metrics: HttpMetrics, quiet_paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.quiet_paths = quiet_paths  # hot paths: logged at debug only

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
            # The path without its query string: viewing tokens may travel there.
            access_log.log(
                logging.DEBUG if scope["path"] in self.quiet_paths else logging.INFO,
                "%s %s",
                scope["method"],
                scope["path"],
                extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)


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
