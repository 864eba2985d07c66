"""Staff routes of the catalogue: performers, events, tiers, split rules.

Admins write; finance keys may read (they check statements against split rules).
"""

from __future__ import annotations

from starlette.routing import Route

from streamsvc.catalog import events, performers, split_rules, tiers
from streamsvc.catalog.models import Event
from streamsvc.catalog.schemas import (
    EventCreate,
    EventListQuery,
    EventPublic,
    EventUpdate,
    PerformerCreate,
    PerformerPublic,
    PerformerUpdate,
    SplitRulePublic,
    SplitRuleQuery,
    SplitRuleWrite,
    TierCreate,
    TierList,
    TierPublic,
    TierUpdate,
)
from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.kit.pagination import Page, PageQuery

PerformerPage = Page[PerformerPublic]
EventPage = Page[EventPublic]


@endpoint(summary="Add a performer", tags=("performers",), access=Access.admin,
          body=PerformerCreate, response=PerformerPublic, status=201)  # fmt: skip
def create_performer(call: Call, body: PerformerCreate) -> PerformerPublic:
    return performers.public(
        performers.create_performer(call.session, call.venue_id, body, call.clock.now())
    )


@endpoint(summary="The venue's performers", tags=("performers",), access=Access.staff,
          query=PageQuery, response=PerformerPage)  # fmt: skip
def list_performers(call: Call, query: PageQuery) -> PerformerPage:
    return performers.list_performers(call.session, call.venue_id, query)


@endpoint(summary="A performer", tags=("performers",), access=Access.staff,
          response=PerformerPublic, errors=(404,))  # fmt: skip
def get_performer(call: Call) -> PerformerPublic:
    return performers.public(
        performers.get_performer(call.session, call.venue_id, call.path("performer_id"))
    )


@endpoint(summary="Change a performer", tags=("performers",), access=Access.admin,
          body=PerformerUpdate, response=PerformerPublic, errors=(404,))  # fmt: skip
def update_performer(call: Call, body: PerformerUpdate) -> PerformerPublic:
    performer = performers.update_performer(
        call.session, call.venue_id, call.path("performer_id"), body
    )
    return performers.public(performer)


def _event(call: Call, event: Event) -> EventPublic:
    ids = events.performer_ids_of(call.session, [event.id]).get(event.id, [])
    return events.public(event, ids, call.clock.now())


@endpoint(summary="Create an event (a draft)", tags=("events",), access=Access.admin,
          body=EventCreate, response=EventPublic, status=201)  # fmt: skip
def create_event(call: Call, body: EventCreate) -> EventPublic:
    return _event(call, events.create_event(call.session, call.venue_id, body, call.clock.now()))


@endpoint(summary="The venue's events", tags=("events",), access=Access.staff,
          query=EventListQuery, response=EventPage)  # fmt: skip
def list_events(call: Call, query: EventListQuery) -> EventPage:
    return events.list_events(call.session, call.venue_id, query, call.clock.now())


@endpoint(summary="An event", tags=("events",), access=Access.staff,
          response=EventPublic, errors=(404,))  # fmt: skip
def get_event(call: Call) -> EventPublic:
    return _event(call, events.get_event(call.session, call.venue_id, call.path("event_id")))


@endpoint(
    summary="Change an event; `status` moves it on_sale → live → ended (409 otherwise)",
    tags=("events",), access=Access.admin, body=EventUpdate, response=EventPublic,
    errors=(404, 409),
)  # fmt: skip
def update_event(call: Call, body: EventUpdate) -> EventPublic:
    event = events.update_event(
        call.session, call.venue_id, call.path("event_id"), body, call.clock.now()
    )
    return _event(call, event)


@endpoint(
    summary="Put the event on sale; 422 lists everything missing, 409 if not a draft",
    tags=("events",), access=Access.admin, response=EventPublic, errors=(404, 409, 422),
)  # fmt: skip
def publish_event(call: Call) -> EventPublic:
    event = events.publish(call.session, call.venue_id, call.path("event_id"), call.clock.now())
    return _event(call, event)


@endpoint(summary="Add a tier to an event", tags=("tiers",), access=Access.admin,
          body=TierCreate, response=TierPublic, status=201, errors=(404, 409))  # fmt: skip
def create_tier(call: Call, body: TierCreate) -> TierPublic:
    event = events.get_event(call.session, call.venue_id, call.path("event_id"))
    tier = tiers.create_tier(call.session, call.venue_id, event.id, body, call.clock.now())
    return tiers.public(tier, event.currency)


@endpoint(summary="An event's tiers", tags=("tiers",), access=Access.staff,
          response=TierList, errors=(404,))  # fmt: skip
def list_tiers(call: Call) -> TierList:
    event = events.get_event(call.session, call.venue_id, call.path("event_id"))
    rows = tiers.list_tiers(call.session, call.venue_id, event.id)
    return TierList(data=[tiers.public(tier, event.currency) for tier in rows])


@endpoint(
    summary="Change a tier; price and capacity cannot drop below what is sold (409)",
    tags=("tiers",), access=Access.admin, body=TierUpdate, response=TierPublic, errors=(404, 409),
)  # fmt: skip
def update_tier(call: Call, body: TierUpdate) -> TierPublic:
    tier = tiers.update_tier(
        call.session, call.venue_id, call.path("tier_id"), body, call.clock.now()
    )
    event = events.get_event(call.session, call.venue_id, tier.event_id)
    return tiers.public(tier, event.currency)


@endpoint(summary="Set the split rule (a new version)", tags=("split rules",),
          access=Access.admin, body=SplitRuleWrite, response=SplitRulePublic,
          errors=(404,))  # fmt: skip
def put_split_rule(call: Call, body: SplitRuleWrite) -> SplitRulePublic:
    rule = split_rules.put_split_rule(
        call.session, call.venue_id, call.path("event_id"), body, call.clock.now()
    )
    return split_rules.public(rule)


@endpoint(summary="The split rule: the latest, or `?version=`", tags=("split rules",),
          access=Access.staff, query=SplitRuleQuery, response=SplitRulePublic,
          errors=(404,))  # fmt: skip
def get_split_rule(call: Call, query: SplitRuleQuery) -> SplitRulePublic:
    rule = split_rules.get_split_rule(
        call.session, call.venue_id, call.path("event_id"), query.version
    )
    return split_rules.public(rule)


routes = [
    Route("/v1/performers", create_performer, methods=["POST"]),
    Route("/v1/performers", list_performers, methods=["GET"]),
    Route("/v1/performers/{performer_id}", get_performer, methods=["GET"]),
    Route("/v1/performers/{performer_id}", update_performer, methods=["PATCH"]),
    Route("/v1/events", create_event, methods=["POST"]),
    Route("/v1/events", list_events, methods=["GET"]),
    Route("/v1/events/{event_id}", get_event, methods=["GET"]),
    Route("/v1/events/{event_id}", update_event, methods=["PATCH"]),
    Route("/v1/events/{event_id}/publish", publish_event, methods=["POST"]),
    Route("/v1/events/{event_id}/tiers", create_tier, methods=["POST"]),
    Route("/v1/events/{event_id}/tiers", list_tiers, methods=["GET"]),
    Route("/v1/tiers/{tier_id}", update_tier, methods=["PATCH"]),
    Route("/v1/events/{event_id}/split-rule", put_split_rule, methods=["PUT"]),
    Route("/v1/events/{event_id}/split-rule", get_split_rule, methods=["GET"]),
]
