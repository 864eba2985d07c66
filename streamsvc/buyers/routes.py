"""POST /v1/buyers/erase: erase a buyer's e-mail address from the venue's orders."""

from __future__ import annotations

from starlette.routing import Route

from streamsvc.buyers import erasure
from streamsvc.buyers.schemas import BuyerErase, BuyerErased
from streamsvc.http.endpoint import Access, Call, endpoint


@endpoint(
    summary="Erase a buyer (GDPR): anonymise the venue's orders of an e-mail address",
    description=(
        "The orders keep their amounts, tickets and refunds; their e-mail address becomes "
        "`erased-<hash>@invalid`, and stored webhook payloads, messages and mails about "
        "them lose the address and the name beside it. The ledger is not touched. Recorded "
        "in the audit log as `buyer.erased` with the counts (not the address). Erasing "
        "again erases nothing more."
    ),
    tags=("buyers",), access=Access.admin, body=BuyerErase, response=BuyerErased,
)  # fmt: skip
def erase_buyer(call: Call, body: BuyerErase) -> BuyerErased:
    done = erasure.erase_buyer(call.session, call.venue_id, body.email, call.clock.now(),
                               mail_dir=call.settings.data_dir / "outbox")  # fmt: skip
    return BuyerErased(
        erased_as=done.pseudonym, orders=done.orders,
        idempotency_records=done.idempotency_records, webhook_payloads=done.webhook_payloads,
        outbox_messages=done.outbox_messages, mails=done.mails,
    )  # fmt: skip


routes = [Route("/v1/buyers/erase", erase_buyer, methods=["POST"])]
