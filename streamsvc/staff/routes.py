"""POST /v1/venues (platform): a venue, its first admin key and, with `admin_email`,
its first admin person, mailed a link to set a password.

The route lives here rather than in venues/ because staff depends on venues, not the
reverse; the venue and its first admin are made in one transaction.
"""

from __future__ import annotations

from pydantic import Field
from starlette.routing import Route

from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.kit.validation import Email, Name
from streamsvc.staff import service
from streamsvc.venues import service as venues
from streamsvc.venues.schemas import (
    ApiKeyCreated,
    ApiKeyPublic,
    VenueCreate,
    VenueCreated,
    VenuePublic,
)

TAGS = ("venues",)


class VenueOnboarding(VenueCreate):
    admin_email: Email | None = Field(
        default=None,
        description="The first admin's e-mail address: they are mailed a one-time link "
        "(72 hours) to set a password for the console. The link is never in the answer.",
    )
    admin_name: Name | None = Field(default=None, description="The first admin's name.")


@endpoint(
    summary="Create a venue, its first admin key and (with admin_email) its first admin",
    tags=TAGS,
    access=Access.platform,
    body=VenueOnboarding,
    response=VenueCreated,
    status=201,
    errors=(409,),
)
def create_venue(call: Call, body: VenueOnboarding) -> VenueCreated:
    now = call.clock.now()
    data = VenueCreate(**body.model_dump(exclude={"admin_email", "admin_name"}))
    venue, key, clear = venues.create_venue(call.session, data, now)
    if body.admin_email is not None:
        service.add_member(
            call.session,
            call.settings,
            venue_id=venue.id,
            email=body.admin_email,
            name=body.admin_name or "",
            role="admin",
            now=now,
        )
    return VenueCreated(
        venue=VenuePublic.of(venue),
        api_key=ApiKeyCreated(**ApiKeyPublic.of(key).model_dump(), key=clear),
    )


routes = [Route("/v1/venues", create_venue, methods=["POST"])]
