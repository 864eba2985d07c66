"""The Stripe webhook: verify, store in the inbox, answer at once; a worker processes."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.routing import Route

from streamsvc.errors import BadRequest
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.payments.gateway import InvalidWebhook
from streamsvc.payments.inbox import receive


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool  # Stripe delivered this event before; it had its effect then


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
    except InvalidWebhook as exc:
        raise BadRequest("The Stripe signature does not verify.", code="invalid_signature") from exc
    if not isinstance(event.get("id"), str):
        raise BadRequest("The event has no id.", code="invalid_event")
    new, to_process = receive(call.session, event, call.clock.now())
    if to_process:
        event_id = event["id"]
        call.uow.after_commit(
            lambda: resources.queue.enqueue("payments.process_stripe_event", event_id)
        )
    return WebhookAck(received=True, duplicate=not new)


routes = [Route("/v1/stripe/webhook", stripe_webhook, methods=["POST"])]
