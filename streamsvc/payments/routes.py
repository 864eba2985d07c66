"""The Stripe webhook: verify, store in the inbox, answer at once; a worker processes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from streamsvc.errors import BadRequest
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.payments.gateway import InvalidEvent, InvalidWebhook
from streamsvc.payments.inbox import MalformedEvent, inbox_row


class WebhookAck(BaseModel):
    received: bool = Field(description="True: the event is stored and will be processed.")
    duplicate: bool = Field(
        description="True: Stripe delivered this event before; it had its effect then."
    )


# Bodies above this are verified and read on the thread pool, not on the event loop.
_READ_ON_LOOP = 64 * 1024


# Public to the key check: the Stripe-Signature over the raw bytes is what authorises,
# and only the payments gateway can check it.
@endpoint(
    summary="Stripe webhook (Stripe-Signature verified); processed by a worker",
    tags=("payments",), access=Access.public, body=bytes, response=WebhookAck, errors=(400,),
)  # fmt: skip
async def stripe_webhook(call: Call, body: bytes) -> WebhookAck:
    # Async: the event is stored by the process's webhook intake, with the events of
    # concurrent requests, in one commit (payments/intake.py); answered after it.
    if len(body) > _READ_ON_LOOP:
        row = await run_in_threadpool(_inbox_row, call, body)
    else:
        row = _inbox_row(call, body)
    new = await call.resources.webhooks.receive(row)
    return WebhookAck(received=True, duplicate=not new)


def _inbox_row(call: Call, body: bytes) -> dict[str, Any]:
    """The verified event's inbox row; 400 when it is not Stripe's or cannot be stored."""
    secrets = [s.get_secret_value() for s in call.settings.stripe_webhook_secrets]
    try:
        event = call.resources.gateway.verify_webhook(
            body, call.request.headers.get("stripe-signature", ""), secrets
        )
    except InvalidEvent as exc:  # signed, so Stripe shows this answer on the endpoint
        raise BadRequest(f"The event is not readable: {exc}.", code="invalid_event") from exc
    except InvalidWebhook as exc:
        raise BadRequest("The Stripe signature does not verify.", code="invalid_signature") from exc
    try:
        return inbox_row(event, call.clock.now())
    except MalformedEvent as exc:  # a 400, not a 500 that Stripe retries for three days
        raise BadRequest(f"The event is malformed: {exc}.", code="invalid_event") from exc


routes = [Route("/v1/stripe/webhook", stripe_webhook, methods=["POST"])]
