"""Reading the ledger (finance and admin keys)."""

from __future__ import annotations

from starlette.routing import Route

from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.ledger import reading
from streamsvc.ledger.schemas import LedgerPage, LedgerQuery


@endpoint(
    summary="Ledger entries of the venue, oldest first (account, from, to)",
    tags=("finance",), access=Access.staff, query=LedgerQuery, response=LedgerPage,
)  # fmt: skip
def read_ledger(call: Call, query: LedgerQuery) -> LedgerPage:
    return reading.entries(call.session, call.venue_id, query)


routes = [Route("/v1/finance/ledger", read_ledger, methods=["GET"])]
