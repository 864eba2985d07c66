"""The JSON API of recordings: venue keys set them up (admins write, finance reads);
the public reads the archive.

Admin: recordings, their offers and split rule, the venue's rights holders; publish
and withdraw. Public: `/v1/public/recordings` (newest first, by venue and licence) and
`/v1/public/recordings/{id}` (`Accept: application/ld+json` gives schema.org JSON-LD).
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.kit.pagination import Page, PageQuery
from streamsvc.recordings import archive, offers, order_routes, rights, service
from streamsvc.recordings.models import Recording
from streamsvc.recordings.opendata import recording_jsonld
from streamsvc.recordings.schemas import (
    ArchiveQuery,
    OfferList,
    OffersWrite,
    RecordingCreate,
    RecordingListing,
    RecordingListQuery,
    RecordingPublic,
    RecordingSplitRulePublic,
    RecordingSplitRuleWrite,
    RecordingUpdate,
    RightsHolderCreate,
    RightsHolderPublic,
    RightsHolderUpdate,
    SplitRuleQuery,
)

RecordingPage = Page[RecordingPublic]
HolderPage = Page[RightsHolderPublic]
ListingPage = Page[RecordingListing]
TAGS = ("recordings",)


def _recording(call: Call, recording: Recording) -> RecordingPublic:
    ids = service.performer_ids_of(call.session, [recording.id]).get(recording.id, [])
    return service.public(recording, ids)


@endpoint(
    summary="Create a recording (a draft)",
    tags=TAGS,
    access=Access.admin,
    body=RecordingCreate,
    response=RecordingPublic,
    status=201,
    errors=(422,),
)
def create_recording(call: Call, body: RecordingCreate) -> RecordingPublic:
    recording = service.create_recording(call.session, call.venue_id, body, call.clock.now())
    return _recording(call, recording)


@endpoint(
    summary="The venue's recordings",
    tags=TAGS,
    access=Access.staff,
    query=RecordingListQuery,
    response=RecordingPage,
)
def list_recordings(call: Call, query: RecordingListQuery) -> RecordingPage:
    return service.list_recordings(call.session, call.venue_id, query)


@endpoint(
    summary="A recording", tags=TAGS, access=Access.staff, response=RecordingPublic, errors=(404,)
)
def get_recording(call: Call) -> RecordingPublic:
    return _recording(
        call, service.get_recording(call.session, call.venue_id, call.path("recording_id"))
    )


@endpoint(
    summary="Change a recording (its rights changes are audit-logged)",
    tags=TAGS,
    access=Access.admin,
    body=RecordingUpdate,
    response=RecordingPublic,
    errors=(404, 409, 422),
)
def update_recording(call: Call, body: RecordingUpdate) -> RecordingPublic:
    recording = service.update_recording(
        call.session, call.venue_id, call.path("recording_id"), body, call.clock.now()
    )
    return _recording(call, recording)


@endpoint(
    summary="Put the recording in the archive; 422 lists what is missing, 409 if published",
    tags=TAGS,
    access=Access.admin,
    response=RecordingPublic,
    errors=(404, 409, 422),
    description="Needs the origin URL, an offer, and a split rule when an offer is paid. "
    "A withdrawn recording may be published again.",
)
def publish_recording(call: Call) -> RecordingPublic:
    recording = service.publish(
        call.session, call.venue_id, call.path("recording_id"), call.clock.now()
    )
    return _recording(call, recording)


@endpoint(
    summary="Take the recording out of the archive: no new sales; 409 unless published",
    tags=TAGS,
    access=Access.admin,
    response=RecordingPublic,
    errors=(404, 409),
    description="What was bought keeps playing when the recording's "
    "`access_continues_after_withdrawal` is true.",
)
def withdraw_recording(call: Call) -> RecordingPublic:
    recording = service.withdraw(
        call.session, call.venue_id, call.path("recording_id"), call.clock.now()
    )
    return _recording(call, recording)


@endpoint(
    summary="Set the recording's offers, all at once (what is left out is withdrawn)",
    tags=TAGS,
    access=Access.admin,
    body=OffersWrite,
    response=OfferList,
    errors=(404, 409, 422),
    description="An unchanged offer keeps its id; a changed one gets a new id, and the "
    "old one stays for what was sold under it.",
)
def put_offers(call: Call, body: OffersWrite) -> OfferList:
    found = offers.set_offers(
        call.session, call.venue_id, call.path("recording_id"), body, call.clock.now()
    )
    return OfferList(data=[offers.public(offer) for offer in found])


@endpoint(
    summary="The recording's offers",
    tags=TAGS,
    access=Access.staff,
    response=OfferList,
    errors=(404,),
)
def get_offers(call: Call) -> OfferList:
    found = offers.list_offers(call.session, call.venue_id, call.path("recording_id"))
    return OfferList(data=[offers.public(offer) for offer in found])


@endpoint(
    summary="Set the recording's split rule (a new version)",
    tags=TAGS,
    access=Access.admin,
    body=RecordingSplitRuleWrite,
    response=RecordingSplitRulePublic,
    errors=(404, 422),
)
def put_split_rule(call: Call, body: RecordingSplitRuleWrite) -> RecordingSplitRulePublic:
    rule = rights.put_split_rule(
        call.session, call.venue_id, call.path("recording_id"), body, call.clock.now()
    )
    return rights.rule_public(rule)


@endpoint(
    summary="The recording's split rule: the latest, or `?version=`",
    tags=TAGS,
    access=Access.staff,
    query=SplitRuleQuery,
    response=RecordingSplitRulePublic,
    errors=(404,),
)
def get_split_rule(call: Call, query: SplitRuleQuery) -> RecordingSplitRulePublic:
    rule = rights.get_split_rule(
        call.session, call.venue_id, call.path("recording_id"), query.version
    )
    return rights.rule_public(rule)


@endpoint(
    summary="Add a rights holder (an estate, a label, a publisher)",
    tags=TAGS,
    access=Access.admin,
    body=RightsHolderCreate,
    response=RightsHolderPublic,
    status=201,
)
def create_holder(call: Call, body: RightsHolderCreate) -> RightsHolderPublic:
    return rights.holder_public(
        rights.create_holder(call.session, call.venue_id, body, call.clock.now())
    )


@endpoint(
    summary="The venue's rights holders",
    tags=TAGS,
    access=Access.staff,
    query=PageQuery,
    response=HolderPage,
)
def list_holders(call: Call, query: PageQuery) -> HolderPage:
    return rights.list_holders(call.session, call.venue_id, query)


@endpoint(
    summary="A rights holder",
    tags=TAGS,
    access=Access.staff,
    response=RightsHolderPublic,
    errors=(404,),
)
def get_holder(call: Call) -> RightsHolderPublic:
    return rights.holder_public(
        rights.get_holder(call.session, call.venue_id, call.path("holder_id"))
    )


@endpoint(
    summary="Change a rights holder",
    tags=TAGS,
    access=Access.admin,
    body=RightsHolderUpdate,
    response=RightsHolderPublic,
    errors=(404,),
)
def update_holder(call: Call, body: RightsHolderUpdate) -> RightsHolderPublic:
    return rights.holder_public(
        rights.update_holder(call.session, call.venue_id, call.path("holder_id"), body)
    )


def _base_url(call: Call) -> str:
    return call.settings.public_url.rstrip("/")


@endpoint(
    summary="The archive: published recordings of every venue, newest first; by venue and licence",
    tags=("public",),
    access=Access.public,
    query=ArchiveQuery,
    response=ListingPage,
)
def public_recordings(call: Call, query: ArchiveQuery) -> ListingPage:
    rows, cursor = archive.list_published(call.session, query, _base_url(call))
    return ListingPage(data=rows, next_cursor=cursor)


@endpoint(
    summary="A published recording; with `Accept: application/ld+json` a schema.org "
    "VideoObject or MusicRecording",
    tags=("public",),
    access=Access.public,
    response=RecordingListing,
    errors=(404,),
)
def public_recording(call: Call) -> RecordingListing | Response:
    listing = archive.get_published(call.session, call.path("recording_id"), _base_url(call))
    if "application/ld+json" in call.request.headers.get("accept", ""):
        return JSONResponse(recording_jsonld(listing), media_type="application/ld+json")
    return listing


routes = [
    Route("/v1/recordings", create_recording, methods=["POST"]),
    Route("/v1/recordings", list_recordings, methods=["GET"]),
    Route("/v1/recordings/{recording_id}", get_recording, methods=["GET"]),
    Route("/v1/recordings/{recording_id}", update_recording, methods=["PATCH"]),
    Route("/v1/recordings/{recording_id}/publish", publish_recording, methods=["POST"]),
    Route("/v1/recordings/{recording_id}/withdraw", withdraw_recording, methods=["POST"]),
    Route("/v1/recordings/{recording_id}/offers", put_offers, methods=["PUT"]),
    Route("/v1/recordings/{recording_id}/offers", get_offers, methods=["GET"]),
    Route("/v1/recordings/{recording_id}/split-rule", put_split_rule, methods=["PUT"]),
    Route("/v1/recordings/{recording_id}/split-rule", get_split_rule, methods=["GET"]),
    Route("/v1/rights-holders", create_holder, methods=["POST"]),
    Route("/v1/rights-holders", list_holders, methods=["GET"]),
    Route("/v1/rights-holders/{holder_id}", get_holder, methods=["GET"]),
    Route("/v1/rights-holders/{holder_id}", update_holder, methods=["PATCH"]),
    Route("/v1/public/recordings", public_recordings, methods=["GET"]),
    Route("/v1/public/recordings/{recording_id}", public_recording, methods=["GET"]),
    *order_routes.routes,  # buying an offer (order_routes.py)
]
