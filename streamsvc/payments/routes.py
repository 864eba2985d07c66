"""The Stripe webhook: verify, store in the inbox, answer at once; a worker processes."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.routing import Route

from streamsvc.errors import BadRequest
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.payments.events import StripeEventReceived
from streamsvc.payments.gateway import InvalidEvent, InvalidWebhook
from streamsvc.payments.inbox import MalformedEvent, receive


class WebhookAck(BaseModel):
    received: bool = Field(description="True: the event is stored and will be processed.")
    duplicate: bool = Field(
        description="True: Stripe delivered this event before; it had its effect then."
    )


# Public to the key check: the Stripe-Signature over the raw bytes is what authorises,
# and only the payments gateway can check it.
@endpoint(
    summary="Stripe webhook (Stripe-Signature verified); processed by a worker",
    tags=("payments",), access=Access.public, body=bytes, response=WebhookAck, errors=(400,),
)  # fmt: skip
def stripe_webhook(call: Call, body: bytes) -> WebhookAck:
    resources = call.resources
    secrets = [s.get_secret_value() for s in call.settings.stripe_webhook_secrets]
    try:
        event = resources.gateway.verify_webhook(
            body, call.request.headers.get("stripe-signature", ""), secrets
        )
    except InvalidEvent as exc:  # signed, so Stripe shows this answer on the endpoint
        raise BadRequest(f"The event is not readable: {exc}.", code="invalid_event") from exc
    except InvalidWebhook as exc:
        raise BadRequest("The Stripe signature does not verify.", code="invalid_signature") from exc
    try:
        new, to_process = receive(call.session, event, call.clock.now())
    except MalformedEvent as exc:  # a 400, not a 500 that Stripe retries for three days
        raise BadRequest(f"The event is malformed: {exc}.", code="invalid_event") from exc
    if to_process:
        # Durable: answered 2xx, Stripe will not deliver it again, so the outbox keeps
        # the worker's cue should the broker be unreachable at the commit.
        call.uow.emit(StripeEventReceived(event["id"]))
    return WebhookAck(received=True, duplicate=not new)


routes = [Route("/v1/stripe/webhook", stripe_webhook, methods=["POST"])]
