"""The audience's keys and scripts: a ticket's keys in one slot, an event's in another,
every command within one slot (so it all works on a Redis Cluster), authorize still one
read, and the figures computed from what was recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.crc import key_slot

from config.settings import Settings
from streamsvc.console.chart import peaks
from streamsvc.viewing import keys
from streamsvc.viewing.audience import AudienceBuckets
from streamsvc.viewing.report import report
from streamsvc.viewing.store import ViewingStore

TICKET = "tkt_ab5cdefghijklmnopqrs"
EVENT = "evt_zy5xwvutsrqponmlkji"


def _slot(key: str) -> int:
    return key_slot(key.encode())


def test_a_tickets_keys_share_a_slot_and_an_events_keys_share_another() -> None:
    ticket_slots = {_slot(k) for k in (*keys.ticket_keys(TICKET), keys.session_key(TICKET, "ses_1"),
                                       keys.session_prefix(TICKET) + "ses_2")}  # fmt: skip
    event_slots = {_slot(k) for k in keys.event_keys(EVENT)}
    assert len(ticket_slots) == 1 and len(event_slots) == 1
    # These two live in different slots, as most tickets and their events do on a cluster;
    # the slot is the hash tag's alone, whatever follows it.
    assert ticket_slots != event_slots
    assert ticket_slots == {key_slot(TICKET.encode())}
    assert event_slots == {key_slot(EVENT.encode())}


class RecordingRedis(aioredis.Redis):
    """A real client that writes down every command it sends (pipelines included)."""

    sent: list[tuple[Any, ...]]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(args)
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        recorded = self.sent
        original = pipe.pipeline_execute_command

        def queue(*args: Any, **options: Any) -> Any:
            recorded.append(args)
            return original(*args, **options)  # type: ignore[no-untyped-call]

        pipe.pipeline_execute_command = queue  # type: ignore[method-assign]
        return pipe


def _keys_of(command: tuple[Any, ...]) -> list[str]:
    name = str(command[0]).upper()
    if name in ("EVALSHA", "EVAL"):
        return [str(k) for k in command[3 : 3 + int(command[2])]]
    if name in ("SCRIPT LOAD", "SCRIPT", "PUBLISH"):
        return []
    return [str(command[1])]


def test_every_command_stays_in_one_slot_and_authorize_writes_nothing(
    settings: Settings,
) -> None:
    now = int(datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)

    async def run() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, int]]:
        client = RecordingRedis.from_url(settings.require("redis_url"))
        assert isinstance(client, RecordingRedis)
        client.sent = []
        store = ViewingStore(client, settings.viewing_session_idle_seconds, cache_seconds=0)
        try:
            # One device allowed, the newest wins: the second redeem replaces the first.
            first = await store.start_session(TICKET, "tv", "ses_first", now_ms=now,
                                              max_devices=1, policy="drop_oldest")  # fmt: skip
            await store.audience.joined(EVENT, first.session_id, now_ms=now, ticket_id=TICKET,
                                        tier_id="tier_a", country="NL", replaced=first.replaced)  # fmt: skip
            second = await store.start_session(TICKET, "phone", "ses_second", now_ms=now + 1000,
                                               max_devices=1, policy="drop_oldest")  # fmt: skip
            assert second.replaced == "ses_first"
            await store.audience.joined(EVENT, second.session_id, now_ms=now + 1000,
                                        ticket_id=TICKET, tier_id="tier_a", country=None,
                                        replaced=second.replaced)  # fmt: skip
            state = await store.heartbeat(TICKET, "ses_second", now + 61_000)
            await store.audience.heartbeat(EVENT, "ses_second", state, now + 61_000)
            # The first call on a Redis that never saw the script loads it (EVALSHA,
            # NOSCRIPT, SCRIPT LOAD, EVALSHA): count a call in the steady state.
            await store.session_state(TICKET, "ses_second")
            before = len(client.sent)
            assert await store.session_state(TICKET, "ses_second") == "active"
            authorize = client.sent[before:]
            await store.ticket_sessions([TICKET], now + 61_000)
            counts = await store.audience.watching_now([EVENT], now + 61_000, 330_000)
            assert await store.end_session(TICKET, "ses_second")
            await store.audience.left(EVENT, "ses_second", now + 90_000, played=True)
            buckets = await store.audience.buckets(EVENT)
            return client.sent, authorize, {**counts, **_totals(buckets)}
        finally:
            await client.aclose()

    sent, authorize, figures = asyncio.run(run())
    scripts = [command for command in sent if str(command[0]).upper() in ("EVALSHA", "EVAL")]
    assert len(scripts) >= 8  # the ticket's and the event's, pipelined ones included
    assert {"ZCOUNT", "HGETALL"} <= {str(command[0]).upper() for command in sent}
    for command in sent:
        slots = {_slot(key) for key in _keys_of(command)}
        assert len(slots) <= 1, command
    # Authorize: one read-only script of the ticket's slot, nothing of the event's.
    assert len(authorize) == 1 and _keys_of(authorize[0]) == [
        keys.ticket_keys(TICKET)[2],
        keys.session_key(TICKET, "ses_second"),
    ]
    # The replaced session left the count at once; the new one played 89 s; one ticket,
    # counted once (its first country, NL), whatever its devices.
    assert figures == {EVENT: 1, "watched_ms": 89_000, "tickets": 1, "NL": 1}


def _totals(buckets: AudienceBuckets) -> dict[str, int]:
    return {"watched_ms": sum(buckets.watched_ms.values()),
            "tickets": sum(buckets.by_tier.values()), **buckets.by_country}  # fmt: skip


def test_the_report_of_recorded_minutes() -> None:
    opens = datetime(2026, 12, 1, 11, 50, tzinfo=UTC)
    m = int(opens.timestamp() // 60)
    copied = AudienceBuckets(sessions={m + 10: 4, m + 11: 7}, watched_ms={m + 10: 90_000},
                             by_tier={"tier_a": 5}, by_country={"NL": 4, "--": 1})  # fmt: skip
    # Redis since the copy: more of minute 11 and a later one; the copy's minute 10 is
    # larger than what a Redis that lost its keys rebuilt.
    live = AudienceBuckets(sessions={m + 10: 1, m + 11: 8, m + 12: 7},
                           watched_ms={m + 10: 30_000, m + 11: 400_000, m + 12: 200_000},
                           by_tier={"tier_a": 6, "tier_b": 2}, by_country={"NL": 5, "BE": 3})  # fmt: skip
    figures = report(copied.merged(live), opens, opens + timedelta(minutes=15))
    assert (figures.viewers, figures.peak, figures.viewing_minutes) == (8, 8, 12)  # 690 s
    assert figures.peak_at == opens + timedelta(minutes=11)
    assert figures.by_tier == [("tier_a", 6), ("tier_b", 2)]
    assert figures.by_country == [("NL", 5), ("BE", 3), ("--", 1)]
    assert [n for _, n in figures.over_the_stream] == [0] * 10 + [4, 8, 7, 0, 0]
    assert figures.over_the_stream[0][0] == opens
    assert report(AudienceBuckets(), opens, opens + timedelta(minutes=2)).peak_at is None


def test_long_streams_are_drawn_as_peaks() -> None:
    assert peaks([1, 5, 2, 2, 9], 2) == (3, [5, 9])
    assert peaks([3, 1], 60) == (1, [3, 1])
    assert peaks([], 60) == (1, [])
