"""The SEPA file (validated against the pain.001.001.03 schema with lxml, its control sum
equal to the lines) and the payout advice (HTML, PDF and mail)."""

from __future__ import annotations

import io
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pypdf import PdfReader
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.errors import Conflict, ValidationFailed
from streamsvc.kit.clock import FixedClock
from streamsvc.payouts import advice, approval, details, runs, setup
from streamsvc.payouts.rail import RailNotConfigured
from streamsvc.payouts.sepa import SepaFileInvalid, SepaRail, validated
from tests.payouts.money import give_details, lines, run, sold_world

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "sepa" / "pain.001.001.03.xsd"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


def validate(content: bytes) -> Any:
    """The parsed file, after lxml validated it against the schema kept with the tests."""
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    document = etree.fromstring(content)
    assert schema.validate(document), schema.error_log
    return document


def cents(value: str) -> int:
    return int(Decimal(value) * 100)


@pytest.fixture
def paid_batch(client: TestClient, database: Database, settings: Settings,
               clock: FixedClock) -> tuple[Any, str]:  # fmt: skip
    world = sold_world(client, database, clock)
    clock.advance(days=40)
    give_details(database, world, clock.now())
    batch_id = run(database, settings, world.venue.id, "2026-12", clock.now())
    return world, batch_id


class Capturing:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.messages.append(message)


def test_the_sepa_file_validates_and_sums_to_the_lines(
    paid_batch: tuple[Any, str], database: Database, settings: Settings, clock: FixedClock
) -> None:
    world, batch_id = paid_batch
    with database.unit_of_work() as uow, pytest.raises(Conflict):  # not approved yet
        approval.download(uow.session, world.venue.id, batch_id, rail=setup.rail(settings),
                          now=clock.now())  # fmt: skip
    with database.unit_of_work() as uow:
        approval.approve(uow.session, world.venue.id, batch_id, approved_by="stf_bob",
                         now=clock.now())  # fmt: skip
        made = approval.download(uow.session, world.venue.id, batch_id,
                                 rail=setup.rail(settings), now=clock.now())  # fmt: skip
    document = validate(made.content)
    paid = lines(database, batch_id)
    header = document.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header.findtext("p:MsgId", namespaces=NS) == batch_id
    assert cents(header.findtext("p:CtrlSum", namespaces=NS)) == sum(
        line.amount for line in paid.values()
    )
    assert int(header.findtext("p:NbOfTxs", namespaces=NS)) == len(paid)
    info = document.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == "NL02ABNA0123456789"
    transfers = {
        tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS): tx
        for tx in info.findall("p:CdtTrfTxInf", NS)
    }
    assert set(transfers) == {line.id for line in paid.values()}
    for line in paid.values():
        tx = transfers[line.id]
        assert cents(tx.findtext("p:Amt/p:InstdAmt", namespaces=NS)) == line.amount
        assert tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == line.iban
        said = tx.findtext("p:RmtInf/p:Ustrd", namespaces=NS)
        assert "2026-12" in said and line.id in said


def test_a_file_the_schema_refuses_is_never_handed_out() -> None:
    document = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>'
    with pytest.raises(SepaFileInvalid, match=r"pain\.001\.001\.03 schema"):
        validated(document)


def test_a_missing_operator_setting_is_named(settings: Settings) -> None:
    bare = settings.model_copy(update={"operator_iban": None})
    with pytest.raises(RailNotConfigured) as missing:
        SepaRail(bare).debtor()
    assert "STREAMSVC_OPERATOR_IBAN" in missing.value.message


def test_the_rail_refuses_what_sepa_cannot_pay(settings: Settings) -> None:
    rail = SepaRail(settings)
    assert rail.refusal("NL91ABNA0417164300", "EUR") is None
    assert rail.refusal("NL91ABNA0417164300", "USD") == "not_eur"
    assert rail.refusal("TR330006100519786457841326", "EUR") == "not_sepa"


def test_ibans_are_validated_and_masked() -> None:
    assert details.mask("NL91ABNA0417164300") == "NL** **** **** **43 00"
    assert details.validated(" Anna  N. ", "nl91 abna 0417 1643 00", "") == (
        "Anna N.",
        "NL91ABNA0417164300",
        "ABNANL2A",
    )
    with pytest.raises(ValidationFailed) as bad:
        details.validated("", "NL91ABNA0417164301", "XX")
    assert set(bad.value.fields) == {"holder", "iban", "bic"}


def test_marking_paid_mails_each_party_its_advice_with_the_pdf(
    paid_batch: tuple[Any, str], database: Database, settings: Settings, clock: FixedClock,
    followups: Any,
) -> None:  # fmt: skip
    world, batch_id = paid_batch
    with database.unit_of_work() as uow:
        approval.approve(uow.session, world.venue.id, batch_id, approved_by="stf_bob",
                         now=clock.now())  # fmt: skip
        runs.mark_paid(uow.session, world.venue.id, batch_id, executed_on=clock.now().date(),
                       paid_by="stf_bob", now=clock.now())  # fmt: skip
    assert ("payouts.send_advices", (batch_id,)) in followups.sent
    sender = Capturing()
    # The venue party has no finance members here: only the two performers are mailed.
    assert advice.send_advices(database, settings, sender, batch_id, clock.now()) == 2
    assert advice.send_advices(database, settings, sender, batch_id, clock.now()) == 0  # once
    paid = lines(database, batch_id)
    singer = world.parties[1]
    [mail] = [m for m in sender.messages if singer["name"] in str(m.get_body(("plain",)))]
    pdf = next(part for part in mail.iter_attachments()
               if part.get_content_type() == "application/pdf")  # fmt: skip
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_content())).pages)
    amount = paid[singer["id"]].amount
    shown = f"{amount // 100},{amount % 100:02d}"  # the venue is Dutch: nl amounts
    assert shown in text and world.event["title"] in text and "2026-12" in text
    assert mail["To"] == f"{singer['name'].split()[0].lower()}@example.org"
