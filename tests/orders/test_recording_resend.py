"""/tickets/resend for a recording's buyer: the watch link is mailed again through the
access mail's own path (RecordingAccessIssued -> recordings.send_access -> mail_access),
the code only in the link's fragment, with the ticket mails' rate limits and the same
answer whether or not the address bought anything."""

from __future__ import annotations

import asyncio
import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.errors import RateLimited
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import resend
from streamsvc.orders.fulfilment import mail_tickets
from streamsvc.recordings.mail import mail_access
from tests.conftest import RecordingQueue
from tests.console.helpers import hybrid_shop, paid_order
from tests.factories import VenueHandle, make_venue
from tests.harness import Infrastructure
from tests.recordings.helpers import published_recording
from tests.recordings.test_buying import _accesses, _buy, _order, _order_id, _pay

pytestmark = pytest.mark.stripe
HTML = {"Accept": "text/html", "Accept-Language": "en"}
TITLE = "Bill Evans Trio, live at the Bimhuis"


@pytest.fixture
def settings(infra: Infrastructure, clean_state: None, tmp_path: Path) -> Settings:
    # No SMTP host: mails are written to DATA_DIR/outbox, where the test reads them.
    # Paid offers are sold; a few orders per address.
    return infra.settings(
        data_dir=tmp_path, resend_rate_per_email=2, resend_rate_per_ip=10,
        recording_paid_sales=True, order_rate_per_email=20,
    )  # fmt: skip


def _resend(settings: Settings, database: Database, clock: FixedClock, address: str,
            client: str = "192.0.2.1") -> None:  # fmt: skip
    async def run() -> None:
        redis = aioredis.Redis.from_url(settings.require("redis_url"))
        try:
            await resend.resend_tickets(
                redis, database, email=address, client=client, now=clock.now(),
                per_email=settings.resend_rate_per_email, per_client=settings.resend_rate_per_ip,
            )  # fmt: skip
        finally:
            await redis.aclose()

    asyncio.run(run())


def _mails(settings: Settings) -> list[EmailMessage]:
    folder = settings.data_dir / "outbox"
    return [
        email.message_from_bytes(path.read_bytes(), policy=default)
        for path in sorted(folder.glob("*.eml"))
    ]


def _body(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _shop(client: TestClient) -> tuple[VenueHandle, Any]:
    venue = make_venue(client)
    return venue, published_recording(client, venue)


def _paid(client: TestClient, database: Database, clock: FixedClock, recording_id: str,
          kind: str, address: str) -> str:  # fmt: skip
    order_id = _order_id(_buy(client, recording_id, kind, email=address), "checkout")
    _pay(client, database, clock, order_id)
    return order_id


def test_a_lost_watch_link_is_mailed_again_with_the_code_in_the_fragment_only(
    client: TestClient, clock: FixedClock, database: Database, settings: Settings,
    followups: RecordingQueue,
) -> None:  # fmt: skip
    _, recording = _shop(client)
    order_id = _paid(client, database, clock, recording["id"], "rental", "Fan@Example.org")
    [access] = _accesses(database, order_id)
    assert mail_access(database, settings, order_id, clock.now())  # the first mail
    assert not mail_access(database, settings, order_id, clock.now())  # once only
    assert len(_mails(settings)) == 1
    followups.sent.clear()

    _resend(settings, database, clock, "  fan@example.ORG ")  # any spelling of it
    assert followups.sent == [("recordings.send_access", (order_id,))]
    assert _order(database, order_id).tickets_mailed_at is None
    # The ticket mail's task finds nothing to send for it; the access mail does.
    assert not mail_tickets(database, settings, order_id, clock.now())
    assert mail_access(database, settings, order_id, clock.now())
    assert not mail_access(database, settings, order_id, clock.now())
    first, again = _mails(settings)
    assert again["To"] == "Fan@Example.org"
    assert TITLE in again["Subject"] and again["Subject"] == first["Subject"]
    text = _body(again)
    link = f"{settings.public_url.rstrip('/')}/watch/recordings/{access.id}#code={access.code}"
    assert link in text
    assert text.count(access.code) == 1  # only in the link's fragment
    assert "Start within 30 days; plays for 48 hours once started." in text
    assert text == _body(first)  # the same mail as the first one


def test_tickets_and_recordings_of_one_address_each_get_their_own_mail(
    client: TestClient, clock: FixedClock, database: Database, settings: Settings,
    followups: RecordingQueue,
) -> None:  # fmt: skip
    venue, recording = _shop(client)
    event, _, stream = hybrid_shop(client, venue, clock.now())
    ticketed = paid_order(client, database, clock, event["id"], stream, quantity=1,
                          email="fan@example.org")  # fmt: skip
    rental = _paid(client, database, clock, recording["id"], "rental", "fan@example.org")
    purchase = _paid(client, database, clock, recording["id"], "purchase", "fan@example.org")
    refunded = _paid(client, database, clock, recording["id"], "rental", "fan@example.org")
    refund = client.post(f"/v1/orders/{refunded}/refunds", json={}, headers=venue.headers)
    assert refund.status_code == 202, refund.text
    unpaid = _order_id(_buy(client, recording["id"], "purchase", email="fan@example.org"),
                       "checkout")  # fmt: skip
    followups.sent.clear()

    _resend(settings, database, clock, "fan@example.org")
    assert sorted(followups.sent) == sorted([
        ("orders.send_tickets", (ticketed["id"],)),
        ("recordings.send_access", (rental,)),
        ("recordings.send_access", (purchase,)),
    ])  # fmt: skip
    sent_for = {args[0] for _, args in followups.sent}
    assert refunded not in sent_for and unpaid not in sent_for
    for order_id in (rental, purchase):
        assert mail_access(database, settings, order_id, clock.now())
    links = {re.search(r"/watch/recordings/(rac_\w+)#code=", _body(m)).group(1)  # type: ignore[union-attr]
             for m in _mails(settings)}  # fmt: skip
    assert links == {_accesses(database, rental)[0].id, _accesses(database, purchase)[0].id}


def test_the_page_answers_a_recording_buyer_as_anyone_and_limits_alike(
    client: TestClient, clock: FixedClock, database: Database, settings: Settings,
    queue: RecordingQueue,
) -> None:  # fmt: skip
    _, recording = _shop(client)
    order_id = _paid(client, database, clock, recording["id"], "purchase", "fan@example.org")
    queue.sent.clear()
    form = client.get("/tickets/resend", headers=HTML)
    assert "Rented or bought a recording? Its watch link is mailed again too." in form.text

    def ask(address: str) -> Any:
        found = re.search(r'name="csrf_token" value="([^"]+)"',
                          client.get("/tickets/resend", headers=HTML).text)  # fmt: skip
        assert found
        return client.post("/tickets/resend", data={"email": address,
                           "csrf_token": found.group(1)}, headers=HTML)  # fmt: skip

    known, unknown = ask("fan@example.org"), ask("nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    answer = re.compile(r'<p role="status" id="resend-answer">(.*?)</p>', re.S)
    said_known, said_unknown = answer.search(known.text), answer.search(unknown.text)
    assert said_known and said_unknown and said_known.group(1) == said_unknown.group(1)
    assert queue.sent == [("recordings.send_access", (order_id,))]  # the app's own bus

    ask("fan@example.org")  # the second of two an hour for this address
    limited = ask("fan@example.org")
    assert limited.status_code == 429
    assert "Too many requests for ticket mails" in limited.text
    assert "resend-answer" not in limited.text
    assert queue.sent == [("recordings.send_access", (order_id,))] * 2
    with pytest.raises(RateLimited):  # the same limit, whichever way it is asked
        _resend(settings, database, clock, "fan@example.org", client="192.0.2.77")
