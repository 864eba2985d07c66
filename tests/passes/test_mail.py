"""A paid pass is mailed to its holder once: the pass page's link, code in the fragment."""

from __future__ import annotations

from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.passes import codes
from streamsvc.passes.mail import mail_pass
from tests.conftest import RecordingQueue
from tests.mailbox import Mailbox
from tests.passes.season import make_season


def test_a_paid_pass_is_mailed_once_with_its_link(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock,
    followups: RecordingQueue, mailbox: Mailbox,
) -> None:  # fmt: skip
    season = make_season(client, database, settings, clock, concerts=1)
    holder = season.buy_pass()
    # The payment raised PassPaid, whose handler asks a worker to mail the pass.
    assert ("passes.send_pass", (holder["id"],)) in followups.sent
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port})
    before = len(mailbox.received)
    assert mail_pass(database, smtp, holder["id"], clock.now()) is True
    [mail] = mailbox.received[before:]
    body = mail.message.get_body(("plain",))
    assert body is not None
    link = codes.pass_page_link(settings, holder["holding_id"],
                                codes.code_for(settings, holder["holding_id"]))  # fmt: skip
    assert link in body.get_content()
    assert "#code=" in link and "?" not in link  # the code never in a path or query
    assert mail_pass(database, smtp, holder["id"], clock.now()) is False  # once
