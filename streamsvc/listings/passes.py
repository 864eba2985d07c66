"""The season passes on sale, for the catalogue's and a venue page's "Season passes".

Each links to the pass's own page (`/season-passes/{id}`, passes/buy_pages.py), where
it is bought. Read with SQL on the passes' tables, as orders/capacity.py counts a
pass's seats: the passes package imports orders, which imports listings, so listings
cannot import passes (tests/test_architecture.py). The rule for "on sale" is the one
of passes/buying.py `on_sale`: published, within its sales window, of a venue that is
not suspended, with an event still to end; a pass sold out stays listed, marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

LIMIT = 100
_ON_SALE = (
    "SELECT p.id, p.name, p.price_amount, p.currency, p.venue_id, v.name AS venue_name, "
    "p.capacity IS NOT NULL AND p.sold + p.held >= p.capacity AS sold_out, "
    "count(*) AS events, min(e.starts_at) AS first_starts_at, "
    "max(e.starts_at) AS last_starts_at, min(e.timezone) AS timezone "
    "FROM season_passes p "
    "JOIN venues v ON v.id = p.venue_id "
    "JOIN pass_events pe ON pe.pass_id = p.id "
    "JOIN events e ON e.id = pe.event_id "
    "WHERE p.published AND v.suspended_at IS NULL "
    "AND (p.sales_start IS NULL OR p.sales_start <= :now) "
    "AND (p.sales_end IS NULL OR :now < p.sales_end) {venue} "
    "GROUP BY p.id, v.name "
    "HAVING max(e.ends_at) > :now "
    "ORDER BY min(e.starts_at), p.id LIMIT :limit"
)
_ALL = text(_ON_SALE.format(venue=""))
_OF_VENUE = text(_ON_SALE.format(venue="AND p.venue_id = :venue_id"))


@dataclass(frozen=True)
class PassCard:
    id: str
    name: str
    price_amount: int  # VAT included
    currency: str
    venue_id: str
    venue_name: str
    sold_out: bool
    events: int  # how many events the pass covers
    first_starts_at: datetime
    last_starts_at: datetime
    timezone: str  # of its events (the first by name, should they differ)


def passes_on_sale(session: Session, now: datetime, venue_id: str | None = None) -> list[PassCard]:
    """The passes on sale now (of one venue), by their first event's start."""
    query, params = (_ALL, {}) if venue_id is None else (_OF_VENUE, {"venue_id": venue_id})
    rows = session.execute(query, {"now": now, "limit": LIMIT, **params}).mappings().all()
    return [
        PassCard(
            id=row["id"],
            name=row["name"],
            price_amount=int(row["price_amount"]),
            currency=row["currency"],
            venue_id=row["venue_id"],
            venue_name=row["venue_name"],
            sold_out=bool(row["sold_out"]),
            events=int(row["events"]),
            first_starts_at=row["first_starts_at"],
            last_starts_at=row["last_starts_at"],
            timezone=row["timezone"],
        )
        for row in rows
    ]
