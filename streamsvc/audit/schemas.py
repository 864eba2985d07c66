"""What readers of the audit log ask and receive."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from streamsvc.kit.described import when
from streamsvc.kit.pagination import Page, PageQuery
from streamsvc.kit.validation import Timestamp

ActorKind = Literal["staff", "key", "platform", "system", "buyer", "performer"]
_ID = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ACTOR_KIND = (
    "Who acted: `staff` (a person in the console), `key` (a venue API key), `platform` "
    "(the operator's key), `system` (a worker or the clock), `buyer` or `performer` (on /me)."
)


class AuditQuery(PageQuery):
    object_type: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")] | None = Field(
        default=None, description="Only entries about this kind of object, e.g. `order`, `tier`."
    )
    object_id: _ID | None = Field(default=None, description="Only entries about this object.")
    actor_kind: ActorKind | None = Field(default=None, description=ACTOR_KIND)
    actor_id: _ID | None = Field(
        default=None, description="Only what this actor did (a key's or a person's id)."
    )
    action: Annotated[str, StringConstraints(pattern=r"^[a-z_.]{1,64}$")] | None = Field(
        default=None,
        description="Only actions starting with this, e.g. `tier.` or `order.refunded`.",
    )
    from_: Timestamp | None = Field(
        default=None, alias="from", description=when("Entries from then, included")
    )
    to: Timestamp | None = Field(default=None, description=when("Entries before then"))

    model_config = {"extra": "forbid", "populate_by_name": True}


class AuditActor(BaseModel):
    kind: ActorKind = Field(description=ACTOR_KIND)
    id: str = Field(description="The key's or the person's id; `system` or `platform` else.")
    label: str = Field(
        description="For display, resolved when read: the key's label or the person's name."
    )


class AuditEntryPublic(BaseModel):
    id: str = Field(description="The entry's id (`aud_…`, opaque).")
    venue_id: str | None = Field(description="The venue it belongs to; null: the platform's.")
    actor: AuditActor = Field(description="Who did it.")
    action: str = Field(
        description="What was done, as a dotted noun: `order.refunded`, `tier.price_changed`, "
        "`split_rule.versioned`, `api_key.revoked`, `buyer.erased`, …"
    )
    object_type: str = Field(description="The kind of object it was done to, e.g. `order`.")
    object_id: str = Field(description="The id of the object it was done to.")
    changes: dict[str, Any] = Field(
        description="What changed: `{field: {before, after}}` or facts such as an amount "
        "(integer minor units). People appear by id, never by e-mail address or name."
    )
    request_id: str | None = Field(
        description="The X-Request-ID of the request (or the task id) that did it."
    )
    created_at: datetime = Field(description=when("When it was done"))


AuditPage = Page[AuditEntryPublic]
