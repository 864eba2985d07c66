"""GET /v1/audit: the venue's audit log (admin; finance reads the money actions)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.routing import Route

from streamsvc.audit import reading
from streamsvc.audit.schemas import AuditPage, AuditQuery
from streamsvc.http.endpoint import Access, Call, endpoint


def build_routes(names: Mapping[str, reading.NameSource]) -> list[Route]:
    """The audit routes, resolving actor names with `names` (by actor kind), which the
    application wires in from the domains that own the names."""

    @endpoint(
        summary="The venue's audit log, newest first",
        description=(
            "Who changed money, access or the rules of sharing, and what changed. An admin "
            "key reads every action; a finance key only the money actions (refunds, "
            "cancellations and reschedules, split-rule versions, prices, acknowledged "
            "findings, exports, payouts and payout details, the offers and split rules of "
            "recordings and season passes, the VAT number). Filters combine; pages follow "
            "`next_cursor`."
        ),
        tags=("audit",), access=Access.staff, query=AuditQuery, response=AuditPage,
    )  # fmt: skip
    def read_audit_log(call: Call, query: AuditQuery) -> AuditPage:
        assert call.staff is not None
        return reading.entries(call.session, call.venue_id, call.staff.role, query, names)

    return [Route("/v1/audit", read_audit_log, methods=["GET"])]
