"""Listing tasks: push an event to UiTdatabank, or every offered event of a venue."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from celery import shared_task

from streamsvc.listings.uitdatabank.client import EntryApi
from streamsvc.listings.uitdatabank.push import Target, give_up, offered_event_ids, push_event
from workers.base import StreamsvcTask, WorkerResources

LISTING: dict[str, Any] = {
    "base": StreamsvcTask,
    "bind": True,
    "acks_late": True,
    # The Task attribute (`task_reject_on_worker_lost` is only the setting's name).
    "reject_on_worker_lost": True,
    "ignore_result": True,
}
# One client per worker process (built lazily, after the fork): its token is reused
# until it expires instead of asked for on every push.
_clients: WeakKeyDictionary[WorkerResources, EntryApi] = WeakKeyDictionary()


def entry_api(resources: WorkerResources) -> EntryApi:
    client = _clients.get(resources)
    if client is None:
        settings = resources.settings
        secret = settings.uitdatabank_client_secret
        client = EntryApi(
            settings.require("uitdatabank_url"),
            token_url=settings.require("uitdatabank_token_url"),
            client_id=settings.require("uitdatabank_client_id"),
            client_secret=secret.get_secret_value() if secret else "",
            now=resources.clock.now,
        )
        _clients[resources] = client
    return client


def close_entry_api(resources: WorkerResources) -> None:
    """Close the process's client (its HTTP connections), if one was built."""
    client = _clients.pop(resources, None)
    if client is not None:
        client.close()


@shared_task(name="listings.push_event", max_retries=8, **LISTING)  # type: ignore[untyped-decorator]
def push_listing(self: StreamsvcTask, event_id: str, force: str = "") -> str:
    """Bring UiTdatabank's listing of the event up to date; safe to run again. Retried
    with backoff while UiTdatabank fails transiently, then marked failed."""
    resources = self.resources
    settings = resources.settings
    if not settings.uitdatabank_url:
        return "off"
    target = Target(settings.public_url, settings.uitdatabank_language)
    outcome = push_event(resources.database, entry_api(resources), event_id,
                         resources.clock.now(), target, force=force == "force")  # fmt: skip
    if outcome.retry:
        if self.request.retries >= self.max_retries:
            give_up(resources.database, event_id, resources.clock.now())
            return "failed"
        raise self.retry(countdown=min(600, 10 * 2**self.request.retries))
    return outcome.action


@shared_task(name="listings.push_venue", **LISTING)  # type: ignore[untyped-decorator]
def push_venue(self: StreamsvcTask, venue_id: str) -> int:
    """The venue's UiTdatabank place changed: push each of its offered events."""
    resources = self.resources
    if not resources.settings.uitdatabank_url:
        return 0
    ids = offered_event_ids(resources.database, venue_id, resources.clock.now())
    for event_id in ids:
        self.enqueue("listings.push_event", event_id)
    return len(ids)
