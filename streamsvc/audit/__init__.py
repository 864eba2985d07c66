"""The audit log (staff contract): `audit.record(session, *, venue_id, action,
object_type, object_id, changes=None)` appends one row in the caller's transaction."""

from streamsvc.audit.service import MONEY_ACTIONS, change, record

__all__ = ["MONEY_ACTIONS", "change", "record"]
