"""Seats and stream slots, counted atomically in PostgreSQL.

Each change is one conditional UPDATE: the row lock it takes serialises buyers of
the same tier, and the condition refuses the one that would go over capacity. The
tier table's check constraint refuses it too, should any code path forget.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

_HOLD = text(
    "UPDATE tiers SET held = held + :q WHERE id = :id "
    "AND (capacity IS NULL OR sold + held + :q <= capacity) RETURNING id"
)
_TAKE = text(
    "UPDATE tiers SET sold = sold + :q WHERE id = :id "
    "AND (capacity IS NULL OR sold + held + :q <= capacity) RETURNING id"
)
_HELD_TO_SOLD = text("UPDATE tiers SET held = held - :q, sold = sold + :q WHERE id = :id")
_RELEASE = text("UPDATE tiers SET held = held - :q WHERE id = :id")


def hold(session: Session, tier_id: str, quantity: int) -> bool:
    """Reserve `quantity` for a pending order; False when that would exceed capacity."""
    return session.execute(_HOLD, {"id": tier_id, "q": quantity}).first() is not None


def take(session: Session, tier_id: str, quantity: int) -> bool:
    """Sell `quantity` without a prior hold (a payment after its hold was released)."""
    return session.execute(_TAKE, {"id": tier_id, "q": quantity}).first() is not None


def convert_hold(session: Session, tier_id: str, quantity: int) -> None:
    session.execute(_HELD_TO_SOLD, {"id": tier_id, "q": quantity})


def release(session: Session, tier_id: str, quantity: int) -> None:
    session.execute(_RELEASE, {"id": tier_id, "q": quantity})


# A season pass's order (orders.pass_id) counts on the pass instead of on tiers, by the
# same conditional updates; the table's checks refuse overselling here too.
_PASS_HOLD = text(
    "UPDATE season_passes SET held = held + :q WHERE id = :id "
    "AND (capacity IS NULL OR sold + held + :q <= capacity) RETURNING id"
)
_PASS_TAKE = text(
    "UPDATE season_passes SET sold = sold + :q WHERE id = :id "
    "AND (capacity IS NULL OR sold + held + :q <= capacity) RETURNING id"
)
_PASS_HELD_TO_SOLD = text(
    "UPDATE season_passes SET held = held - :q, sold = sold + :q WHERE id = :id"
)
_PASS_RELEASE = text("UPDATE season_passes SET held = held - :q WHERE id = :id")


def hold_pass(session: Session, pass_id: str) -> bool:
    """Reserve one pass for a pending order; False when none is left."""
    return session.execute(_PASS_HOLD, {"id": pass_id, "q": 1}).first() is not None


def take_pass(session: Session, pass_id: str) -> bool:
    return session.execute(_PASS_TAKE, {"id": pass_id, "q": 1}).first() is not None


def convert_pass_hold(session: Session, pass_id: str) -> None:
    session.execute(_PASS_HELD_TO_SOLD, {"id": pass_id, "q": 1})


def release_pass(session: Session, pass_id: str) -> None:
    session.execute(_PASS_RELEASE, {"id": pass_id, "q": 1})
