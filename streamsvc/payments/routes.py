"""The Stripe webhook: verify, store in the inbox, answer at once; a worker processes."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc.db import UnitOfWork
from streamsvc.errors import BadRequest
from streamsvc.http.endpoint import in_unit_of_work
from streamsvc.http.openapi import operation
from streamsvc.payments.gateway import InvalidWebhook
from streamsvc.payments.inbox import receive


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool  # Stripe delivered this event before; it had its effect then


@operation(
    summary="Stripe webhook (Stripe-Signature verified); processed by a worker",
    tags=("payments",), responses={200: WebhookAck}, errors=(400, 413),
)  # fmt: skip
async def stripe_webhook(request: Request) -> Response:
    resources = request.app.state.resources
    payload = await request.body()
    secrets = [s.get_secret_value() for s in resources.settings.stripe_webhook_secrets]
    try:
        event = resources.gateway.verify_webhook(
            payload, request.headers.get("stripe-signature", ""), secrets
        )
    except InvalidWebhook as exc:
        raise BadRequest("The Stripe signature does not verify.", code="invalid_signature") from exc
    if not isinstance(event.get("id"), str):
        raise BadRequest("The event has no id.", code="invalid_event")

    def store(uow: UnitOfWork) -> bool:
        new, to_process = receive(uow.session, event, resources.clock.now())
        if to_process:
            event_id = event["id"]
            uow.after_commit(
                lambda: resources.queue.enqueue("payments.process_stripe_event", event_id)
            )
        return new

    new = await in_unit_of_work(request, store)
    return JSONResponse({"received": True, "duplicate": not new})


routes = [Route("/v1/stripe/webhook", stripe_webhook, methods=["POST"])]
