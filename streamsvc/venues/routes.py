"""Staff API keys (venue admins). POST /v1/venues is streamsvc/staff/routes.py: the
first admin person is made with the venue."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.venues import service
from streamsvc.venues.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyPublic,
)

TAGS = ("venues",)


@endpoint(
    summary="Create an API key; the key is shown in this response only",
    tags=TAGS,
    access=Access.admin,
    body=ApiKeyCreate,
    response=ApiKeyCreated,
    status=201,
)
def create_api_key(call: Call, body: ApiKeyCreate) -> ApiKeyCreated:
    key, clear = service.create_api_key(call.session, call.venue_id, body, call.clock.now())
    return ApiKeyCreated(**ApiKeyPublic.of(key).model_dump(), key=clear)


@endpoint(
    summary="The venue's active API keys", tags=TAGS, access=Access.admin, response=ApiKeyList
)
def list_api_keys(call: Call) -> ApiKeyList:
    keys = service.list_api_keys(call.session, call.venue_id)
    return ApiKeyList(data=[ApiKeyPublic.of(key) for key in keys])


@endpoint(
    summary="Revoke an API key at once",
    tags=TAGS,
    access=Access.admin,
    status=204,
    errors=(404, 409),
)
def delete_api_key(call: Call) -> Response:
    service.revoke_api_key(call.session, call.venue_id, call.path("key_id"), call.clock.now())
    return Response(status_code=204)


routes = [
    Route("/v1/api-keys", create_api_key, methods=["POST"]),
    Route("/v1/api-keys", list_api_keys, methods=["GET"]),
    Route("/v1/api-keys/{key_id}", delete_api_key, methods=["DELETE"]),
]
