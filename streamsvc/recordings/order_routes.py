"""`POST /v1/public/recordings/{recording_id}/orders`: buy one offer of a recording.

The JSON twin of the recording page's order forms, mirroring
`POST /v1/public/events/{id}/orders` (orders/routes.py): the same rate limits, the same
Idempotency-Key semantics, the same answer (OrderCreated); `payment` is null for a free
offer, whose access is issued at once. Listed by recordings/routes.py.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.notifications.mail import choose_locale
from streamsvc.orders.models import OrderStatus
from streamsvc.orders.routes import _rate_limit as rate_limit_orders
from streamsvc.orders.routes import idempotency_key
from streamsvc.orders.schemas import OrderCreated, PaymentInfo
from streamsvc.recordings import buying
from streamsvc.recordings.schemas import RecordingOrderCreate

BUYING = """\
One access to the recording per order: a rental (start within its days, then it plays \
for its hours), a purchase, or a free play. The order is read, paid and refunded as a \
ticket order is; once paid its access is mailed to the buyer (the watch link carries \
its code in the URL fragment).

Send an `Idempotency-Key` header (1-255 visible ASCII characters), a fresh random UUID \
for every purchase attempt, reused only to retry that attempt. A key is scoped to the \
recording and the buyer's e-mail address, as for ticket orders.

409 `recording_withdrawn` (no new sales), `offer_retired` (choose a current offer), \
`recording_split_rule_missing` (a paid offer of a recording with no split rule); 422 \
`offer_not_found` for an offer of another recording.
"""


@endpoint(
    summary="Buy a recording's offer: a rental, a purchase or a free play",
    tags=("public",), access=Access.public, body=RecordingOrderCreate, response=OrderCreated,
    status=201, errors=(404, 409, 422, 429, 503), description=BUYING,
)  # fmt: skip
async def create_recording_order(call: Call, body: RecordingOrderCreate) -> Response:
    request, resources = call.request, call.request.app.state.resources
    key = idempotency_key(request)
    await rate_limit_orders(request, body.email)
    bought = await run_in_threadpool(
        lambda: buying.buy_recording(
            resources.database, resources.gateway, resources.settings, resources.clock,
            recording_id=call.path("recording_id"), offer_id=body.offer_id, email=body.email,
            country=body.country, locale=choose_locale(request.headers.get("accept-language")),
            idempotency_key=key,
        )
    )  # fmt: skip
    paid = bought.status != OrderStatus.pending
    answer = OrderCreated.model_validate({
        "id": bought.order_id, "status": bought.status, "total_amount": bought.total_amount,
        "currency": bought.currency, "expires_at": bought.expires_at,
        "order_token": bought.order_token,
        "payment": None if paid else PaymentInfo(payment_intent_id=bought.payment_intent_id,
                                                 client_secret=bought.client_secret),
    })  # fmt: skip
    return JSONResponse(answer.model_dump(mode="json"), status_code=201)


routes = [
    Route("/v1/public/recordings/{recording_id}/orders", create_recording_order, methods=["POST"]),
]
