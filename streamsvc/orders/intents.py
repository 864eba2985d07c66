"""The payment step of an order bought outside an event's ticket checkout (a season
pass, a recording): its PaymentIntent, made once, whatever retries."""

from __future__ import annotations

from typing import Any

from streamsvc import idempotency
from streamsvc.db import Database
from streamsvc.errors import DependencyUnavailable
from streamsvc.kit.clock import Clock
from streamsvc.orders import buying
from streamsvc.orders.models import OrderStatus
from streamsvc.payments.gateway import PaymentGateway, PaymentProviderUnavailable


def pay_for(
    database: Database, gateway: PaymentGateway, clock: Clock, draft: dict[str, Any], *,
    metadata: dict[str, str], scope: str, key: str | None,
) -> dict[str, Any]:  # fmt: skip
    """Create the drafted order's PaymentIntent (its idempotency key is the order's, so a
    retry makes none twice) and attach it; the draft with `payment_intent_id` and
    `client_secret`, recorded as the answer under the request's key. Stripe away: the
    order gives its hold back, the key records the 503, and that is raised."""
    order_id = str(draft["order_id"])
    try:
        intent = gateway.create_payment_intent(
            amount=int(draft["total_amount"]), currency=str(draft["currency"]),
            metadata={"order_id": order_id, **metadata, "venue_id": str(draft["venue_id"])},
            idempotency_key=f"order:{order_id}:intent",
        )  # fmt: skip
    except PaymentProviderUnavailable as exc:
        unavailable = DependencyUnavailable("Payments are unavailable right now; try again.")
        with database.unit_of_work() as uow:
            locked = buying.lock_order(uow.session, order_id)
            if locked is not None and locked.payment_intent_id is None:
                buying.release_hold(uow.session, locked, OrderStatus.failed, clock.now())
            if key is not None:
                idempotency.complete(uow.session, scope, key, 503, unavailable.body())
        raise unavailable from exc
    answer = {**draft, "payment_intent_id": intent.id, "client_secret": intent.client_secret}
    with database.unit_of_work() as uow:
        # The draft is durable: should a crash of PostgreSQL lose this, the webhook finds
        # the order by the intent's metadata, and a retry with the key attaches it again.
        uow.commit_without_waiting_for_disk()
        buying.attach_intent(uow.session, order_id, intent.id)
        if key is not None:
            idempotency.complete(uow.session, scope, key, 201, answer)
    return answer
