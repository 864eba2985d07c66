"""Season pass money moved outside our own refund path (passes/outside.py): a refund
made in Stripe's dashboard, a lost dispute, a refund of ours that Stripe failed. Each
is taken into the pass's shares and its ledger once, the identity holds throughout,
and recognition recognises only what is left of a share.

The season: four concerts, a €60.00 pass at 21 % VAT, equal weights. Worked by hand
with kit.money.allocate's rule (floors, then one unit each to the largest remainders,
ties to the earlier part):
  VAT = 6000 * 2100/12100 = 1041.32 → 1041; net 4959 (its remainder .68 took the unit)
  net per concert 4959/4 = 1239.75 → 1240, 1240, 1240, 1239
  VAT per concert 1041/4 = 260.25 → 261, 260, 260, 260
  fee (Stripe's 1.5 % + 25 = 115) per concert 28.75 → 29, 29, 29, 28
so the concerts' shares (net + VAT) are 1501, 1500, 1500, 1499.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.ledger.models import ReconciliationFinding
from streamsvc.orders import cancellation
from streamsvc.orders.models import Order, Ticket, TicketStatus
from streamsvc.passes import claims, outside, recognition
from streamsvc.passes.models import PassShare, PassShareReturn
from streamsvc.payments.models import Refund
from tests.orders import scenarios as s
from tests.passes.season import Season, make_season
from workers.schedule import beat_schedule

PRICE, VAT_BPS = 6000, 2100
UNALLOCATED = "pass_refunds_unallocated:pass:"


def _season(client: TestClient, database: Database, settings: Settings,
            clock: FixedClock) -> Season:  # fmt: skip
    return make_season(client, database, settings, clock, price=PRICE, vat_bps=VAT_BPS)


def _send(season: Season, *events: dict[str, Any]) -> None:
    """Stripe sends these (signed) webhooks; the worker processes its inbox."""
    for evt in events:
        s.deliver(season.client, evt)
    s.drain(season.database, season.clock)


def _dashboard_refund(season: Season, holder: dict[str, Any], stripe_id: str,
                      amount: int) -> dict[str, Any]:  # fmt: skip
    evt = s.charge_refunded(holder, [(stripe_id, amount)])
    _send(season, evt)
    return evt


def _dispute(season: Season, holder: dict[str, Any], dispute_id: str, status: str,
             amount: int = PRICE) -> dict[str, Any]:  # fmt: skip
    kind = "created" if status == "needs_response" else "closed"
    obj = s.stripe_object("dispute", id=dispute_id, amount=amount, status=status,
                          payment_intent=holder["payment"]["payment_intent_id"])  # fmt: skip
    evt = s.event(f"charge.dispute.{kind}", obj, created=s.moment())
    _send(season, evt)
    return evt


def _our_refund_fails(season: Season, refund: Refund, stripe_id: str,
                      status: str = "failed") -> dict[str, Any]:  # fmt: skip
    """Stripe reports a refund we asked for as failed (or canceled)."""
    with season.database.unit_of_work() as uow:
        order = uow.session.get(Order, refund.order_id)
        assert order is not None
        intent = order.payment_intent_id
    obj = s.stripe_object("refund", id=stripe_id, amount=refund.amount, status=status,
                          payment_intent=intent, metadata={"refund_id": refund.id})  # fmt: skip
    kind = "refund.failed" if status == "failed" else "refund.updated"
    evt = s.event(kind, obj, created=s.moment())
    _send(season, evt)
    return evt


def _absorb(season: Season) -> int:
    return outside.absorb_outside_changes(season.database, season.clock.now())


def _refund_of(season: Season, stripe_id: str) -> Refund:
    with season.database.unit_of_work() as uow:
        found = uow.session.exec(select(Refund).where(Refund.stripe_refund_id == stripe_id)).one()
        uow.session.expunge(found)
        return found


def _posting(season: Season, reference: str) -> dict[str, int]:
    """The entries of one ledger transaction by account code (pass accounts shortened)."""
    with season.database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.code, e.amount FROM ledger_entries e JOIN ledger_transactions t "
            "ON t.id = e.transaction_id JOIN ledger_accounts a ON a.id = e.account_id "
            "WHERE t.reference = :r"), {"r": reference}).all()  # fmt: skip
    return {str(code).split(":pass:")[0]: int(amount) for code, amount in rows}


def _left(season: Season, holder: dict[str, Any]) -> list[tuple[str, int, int]]:
    """Per concert, in order: the holder's share's state and what is left of its net and VAT."""
    with season.database.unit_of_work() as uow:
        shares = list(uow.session.exec(select(PassShare).where(
            PassShare.holding_id == holder["holding_id"])))  # fmt: skip
        left = recognition.left_of(uow.session, shares)
        by_event = {share.event_id: share for share in shares}
        return [(by_event[c.event["id"]].state.value, *left[holder["holding_id"], c.event["id"]])
                for c in season.concerts]  # fmt: skip


def _money(season: Season) -> tuple[int, int, int, int, int, int]:
    """(payments, recognised, deferred, VAT, refunds, unallocated); the identity holds."""
    money = season.money()
    assert money.balanced, money
    return (money.payments, money.recognised, money.deferred, money.vat, money.refunds,
            money.unallocated)  # fmt: skip


def _findings(season: Season) -> list[tuple[str, str, int | None]]:
    with season.database.unit_of_work() as uow:
        rows = uow.session.exec(select(ReconciliationFinding).where(
            ReconciliationFinding.venue_id == season.venue.id))  # fmt: skip
        return [(f.kind, f.reference, f.amount) for f in rows]


def _state(season: Season) -> dict[str, Any]:
    """Everything the task or a webhook could change, as stored."""
    with season.database.engine.connect() as conn:
        ledger = sorted(conn.execute(text(
            "SELECT t.reference, a.code, e.amount FROM ledger_entries e JOIN ledger_transactions t "
            "ON t.id = e.transaction_id JOIN ledger_accounts a ON a.id = e.account_id")).all())  # fmt: skip
    with season.database.unit_of_work() as uow:
        return {
            "ledger": ledger,
            "shares": sorted(str(x.model_dump()) for x in uow.session.exec(select(PassShare))),
            "returns": sorted(
                str(x.model_dump()) for x in uow.session.exec(select(PassShareReturn))
            ),
            "refunds": sorted(str(x.model_dump()) for x in uow.session.exec(select(Refund))),
            "tickets": sorted(str(x.model_dump()) for x in uow.session.exec(select(Ticket))),
            "findings": sorted(_findings(season), key=str),
        }


def _nothing_twice(season: Season, events: list[dict[str, Any]]) -> None:
    """The task run again and every webhook delivered again change nothing."""
    before = _state(season)
    assert _absorb(season) == 0
    _send(season, *events)
    assert _absorb(season) == 0
    assert _state(season) == before


def _claim(season: Season, holder: dict[str, Any], concert: int) -> str:
    with season.database.unit_of_work() as uow:
        return claims.claim(uow, season.settings, holder["holding_id"],
                            season.concerts[concert].event["id"], season.clock.now()).ticket_id  # fmt: skip


def _ticket(season: Season, ticket_id: str) -> TicketStatus:
    with season.database.unit_of_work() as uow:
        ticket = uow.session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket.status


def test_the_task_runs_every_minute_with_the_money_options(settings: Settings) -> None:
    entry = beat_schedule(settings)["absorb-pass-outside-changes"]
    assert (entry["task"], entry["schedule"]) == ("passes.absorb_outside_changes", 60)


def test_a_dashboard_refund_before_the_season_comes_out_of_every_share(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = _season(client, database, settings, clock)
    holder = season.buy_pass()
    assert _left(season, holder) == [("deferred", 1240, 261), ("deferred", 1240, 260),
                                     ("deferred", 1240, 260), ("deferred", 1239, 260)]  # fmt: skip
    assert _money(season) == (6000, 0, 4959, 1041, 0, 0)
    with database.unit_of_work() as uow:  # posted: the collecting beat's query skips it
        assert recognition.awaiting_collection(uow.session) == []

    # €15.00 refunded in Stripe's dashboard: recorded from the webhook, posted by nothing.
    webhook = _dashboard_refund(season, holder, "re_dash_a", 1500)
    refund = _refund_of(season, "re_dash_a")
    assert (refund.origin, refund.amount) == ("stripe", 1500)
    assert _posting(season, f"pass:{holder['holding_id']}:outside:{refund.id}") == {}

    assert _absorb(season) == 1
    # 1500 over 1501/1500/1500/1499: 375.25, 375, 375, 374.75 → 375 each (the last's .75
    # takes the unit). Each 375 by its share's net:VAT: 1240:261 → 309.79/65.21 → 310/65;
    # 1240:260 → 310/65 exactly; 1239:260 → 309.96/65.04 → 310/65.
    assert _posting(season, f"pass:{holder['holding_id']}:outside:{refund.id}") == {
        "deferred": 1240, "vat_payable": 260, "stripe_balance": -1500}  # fmt: skip
    assert _left(season, holder) == [("deferred", 930, 196), ("deferred", 930, 195),
                                     ("deferred", 930, 195), ("deferred", 929, 195)]  # fmt: skip
    assert _money(season) == (6000, 0, 3719, 781, 1500, 0)
    # Stripe tells of the same refund again in another event: nothing more is taken.
    updated = s.refund(holder, "re_dash_a", 1500)
    _send(season, updated)
    assert _absorb(season) == 0
    assert _money(season) == (6000, 0, 3719, 781, 1500, 0)
    _nothing_twice(season, [webhook, updated])

    # Each concert's end recognises what is left of its share; the fee share whole.
    for index, (net, fee) in enumerate([(930, 29), (930, 29), (930, 29), (929, 28)]):
        season.end(index)
        statement = season.statement(index)
        assert (statement.pass_revenue, statement.pass_fees) == (net, fee)
    assert _money(season) == (6000, 3719, 0, 781, 1500, 0)
    assert _findings(season) == []


def test_a_dashboard_refund_later_takes_only_what_is_deferred(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = _season(client, database, settings, clock)
    holder = season.buy_pass()
    ticket = _claim(season, holder, 3)
    season.end(0)
    season.end(1)
    assert _money(season) == (6000, 2480, 2479, 1041, 0, 0)

    # €20.00 after two concerts: over the two deferred shares 1500 and 1499 only
    # (1000.33, 999.67 → 1000 and 1000), 1000 by 1240:260 → 826.67/173.33 → 827/173 and
    # by 1239:260 → 826.55/173.45 → 827/173.
    first = _dashboard_refund(season, holder, "re_dash_b1", 2000)
    assert _absorb(season) == 1
    refund = _refund_of(season, "re_dash_b1")
    assert _posting(season, f"pass:{holder['holding_id']}:outside:{refund.id}") == {
        "deferred": 1654, "vat_payable": 346, "stripe_balance": -2000}  # fmt: skip
    assert _left(season, holder) == [("recognised", 1240, 261), ("recognised", 1240, 260),
                                     ("deferred", 413, 87), ("deferred", 412, 87)]  # fmt: skip
    assert _money(season) == (6000, 2480, 825, 695, 2000, 0)
    assert [season.statement(i).pass_revenue for i in (0, 1)] == [1240, 1240]
    assert _ticket(season, ticket) == TicketStatus.valid  # its share is not emptied

    # €15.00 more: 999 is deferred; it all goes (both shares emptied, their fee shares
    # 29 + 28 kept by Stripe), the other 501 is never taken from the recognised concerts.
    second = _dashboard_refund(season, holder, "re_dash_b2", 1500)
    assert _absorb(season) == 1
    refund = _refund_of(season, "re_dash_b2")
    assert _posting(season, f"pass:{holder['holding_id']}:outside:{refund.id}") == {
        "deferred": 825, "vat_payable": 174, "stripe_balance": -1500,
        "pass_refunds_unallocated": 501, "pass_fees_kept": 57, "deferred_fees": -57}  # fmt: skip
    assert _left(season, holder) == [("recognised", 1240, 261), ("recognised", 1240, 260),
                                     ("refunded", 0, 0), ("refunded", 0, 0)]  # fmt: skip
    assert _money(season) == (6000, 2480, 0, 521, 2999, 501)
    assert _findings(season) == [("pass_refund_unallocated", f"refund:{refund.id}", 501)]
    assert _ticket(season, ticket) == TicketStatus.revoked  # its concert's money went back
    assert [season.statement(i).pass_revenue for i in (0, 1)] == [1240, 1240]
    _nothing_twice(season, [first, second])

    season.end(2)
    season.end(3)
    assert [season.statement(i).pass_revenue for i in (2, 3)] == [0, 0]
    assert _money(season) == (6000, 2480, 0, 521, 2999, 501)


def test_a_lost_dispute_takes_the_deferred_shares_a_won_one_lets_them_be_recognised(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = _season(client, database, settings, clock)
    lost, won, partly = season.buy_pass(), season.buy_pass(), season.buy_pass()
    played, coming = _claim(season, lost, 0), _claim(season, lost, 1)
    events = [_dispute(season, won, "dp_won", "needs_response"),
              _dispute(season, partly, "dp_partly", "needs_response", 3000),
              _dispute(season, partly, "dp_partly", "lost", 3000)]  # fmt: skip

    # The first concert ends: the disputed passes' shares wait (the money is held, or
    # its loss not yet taken out of the shares).
    season.end(0)
    assert season.statement(0).pass_revenue == 1240

    # 3000 lost of the third pass: over 1501/1500/1500/1499, 750.5, 750, 750, 749.5 →
    # 751, 750, 750, 749 (of the two .5 the earlier); 751 by 1240:261 → 620.41/130.59 →
    # 620/131, 750 → 620/130, 749 by 1239:260 → 619.09/129.91 → 619/130.
    assert _absorb(season) == 1
    holding = partly["holding_id"]
    assert _posting(season, f"pass:{holding}:dispute:dp_partly") == {
        "deferred": 2479, "vat_payable": 521, "stripe_balance": -3000}  # fmt: skip
    assert _left(season, partly) == [("deferred", 620, 130)] * 4
    assert season.settle(0) == 1  # what is left of a lost dispute's shares is recognised
    assert season.statement(0).pass_revenue == 1240 + 620

    # The whole first pass lost after its first concert: its three deferred shares go
    # (4499), the other 1501 was recognised and stays so: unallocated, with a finding.
    events += [_dispute(season, lost, "dp_lost", "needs_response"),
               _dispute(season, lost, "dp_lost", "lost")]  # fmt: skip
    assert _absorb(season) == 1
    assert _posting(season, f"pass:{lost['holding_id']}:dispute:dp_lost") == {
        "deferred": 3719, "vat_payable": 780, "stripe_balance": -6000,
        "pass_refunds_unallocated": 1501, "pass_fees_kept": 86, "deferred_fees": -86}  # fmt: skip
    assert _left(season, lost) == [("recognised", 1240, 261)] + [("refunded", 0, 0)] * 3
    assert (_ticket(season, played), _ticket(season, coming)) == (
        TicketStatus.valid, TicketStatus.revoked)  # fmt: skip
    assert _findings(season) == [("pass_refund_unallocated", "dispute:dp_lost", 1501)]

    # The second pass's dispute is won: nothing moved, its share is recognised after all.
    events.append(_dispute(season, won, "dp_won", "won"))
    assert _absorb(season) == 0
    assert season.settle(0) == 1
    assert season.statement(0).pass_revenue == 1240 + 620 + 1240
    _nothing_twice(season, events)

    season.end(1)
    assert season.statement(1).pass_revenue == 1240 + 620  # the won and the partly lost
    # Payments 3 * 6000; recognised 3100 + 1860; deferred the won pass's last two shares
    # (1240 + 1239) and what is left of the partly lost one's (620 + 620); VAT 3 * 1041
    # less 780 and 521; refunds 4499 + 3000; 1501 beyond the lost pass's deferred money.
    assert _money(season) == (18000, 4960, 3719, 1822, 7499, 1501)


def test_a_failed_refund_of_ours_is_reversed_and_not_retried_by_itself(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = _season(client, database, settings, clock)
    asked, cancelled = season.buy_pass(), season.buy_pass()
    ticket = _claim(season, asked, 0)

    # Staff refund the first pass: posted as returned when asked, before Stripe answers.
    with database.unit_of_work() as uow:
        refund = recognition.refund_holding(uow.session, season.venue.id, asked["holding_id"],
                                            clock.now(), reason="asked")  # fmt: skip
        uow.session.expunge(refund)
    assert refund.amount == 6000
    paid_back = _posting(season, f"pass:{asked['holding_id']}:refund:{refund.id}")
    assert paid_back == {"deferred": 4959, "vat_payable": 1041, "stripe_balance": -6000,
                         "pass_fees_kept": 115, "deferred_fees": -115}  # fmt: skip
    assert _money(season) == (12000, 0, 4959, 1041, 6000, 0)

    events = [_our_refund_fails(season, refund, "re_fail_staff")]
    assert _absorb(season) == 1
    reversal = _posting(season, f"pass:{asked['holding_id']}:refund_failed:{refund.id}")
    assert reversal == {code: -amount for code, amount in paid_back.items()}
    assert _left(season, asked) == [("deferred", 1240, 261), ("deferred", 1240, 260),
                                    ("deferred", 1240, 260), ("deferred", 1239, 260)]  # fmt: skip
    assert _money(season) == (12000, 0, 9918, 2082, 0, 0)
    assert _ticket(season, ticket) == TicketStatus.revoked  # revocation is final

    # The third concert is cancelled: its share goes back to the second holder (the
    # first's share of it waits for staff: its refund failed), and that refund fails too.
    third = season.concerts[2].event["id"]
    with database.unit_of_work() as uow:
        cancellation.cancel_event(uow.session, season.venue.id, third, clock.now())
    assert season.settle(2) == 1
    with database.unit_of_work() as uow:
        automatic = uow.session.exec(select(Refund).where(
            Refund.order_id == cancelled["id"])).one()  # fmt: skip
        uow.session.expunge(automatic)
    assert (automatic.amount, automatic.origin) == (1500, "pass")
    events.append(_our_refund_fails(season, automatic, "re_fail_auto", status="canceled"))
    assert _absorb(season) == 1
    assert _posting(season, f"pass:{cancelled['holding_id']}:refund_failed:{automatic.id}") == {
        "deferred": -1240, "vat_payable": -260, "stripe_balance": 1500,
        "pass_fees_kept": -29, "deferred_fees": 29}  # fmt: skip
    with database.unit_of_work() as uow:
        marked = {(share.holding_id, share.failed_refund_id) for share in uow.session.exec(
            select(PassShare).where(PassShare.event_id == third))}  # fmt: skip
    assert marked == {(asked["holding_id"], refund.id), (cancelled["holding_id"], automatic.id)}
    assert _money(season) == (12000, 0, 9918, 2082, 0, 0)

    # No refund loop: the next beats leave the failed shares alone.
    with database.unit_of_work() as uow:
        assert third not in recognition.events_to_settle(uow.session, clock.now())
    assert season.settle(2) == 0
    _nothing_twice(season, events)

    # Staff refund both passes: everything (no concert ended), the failed shares with it.
    clock.advance(minutes=1)
    for holder in (cancelled, asked):
        with database.unit_of_work() as uow:
            again = recognition.refund_holding(uow.session, season.venue.id,
                                               holder["holding_id"], clock.now(), reason="asked")  # fmt: skip
            assert (again.amount, again.status) == (6000, "requested")
        assert [state for state, _, _ in _left(season, holder)] == ["refunded"] * 4
    with database.unit_of_work() as uow:
        assert not list(uow.session.exec(select(PassShare).where(
            col(PassShare.failed_refund_id).is_not(None))))  # fmt: skip
    assert _money(season) == (12000, 0, 0, 0, 12000, 0)
    assert _findings(season) == []


def test_a_failed_dashboard_refund_puts_its_parts_back(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = _season(client, database, settings, clock)
    holder = season.buy_pass()
    # The whole pass refunded in the dashboard: every share emptied (the same 1500/1500/
    # 1500/1500 split as €15.00 times four, by net:VAT exactly the shares themselves).
    events = [_dashboard_refund(season, holder, "re_dash_f", 6000)]
    assert _absorb(season) == 1
    refund = _refund_of(season, "re_dash_f")
    taken = _posting(season, f"pass:{holder['holding_id']}:outside:{refund.id}")
    assert taken == {"deferred": 4959, "vat_payable": 1041, "stripe_balance": -6000,
                     "pass_fees_kept": 115, "deferred_fees": -115}  # fmt: skip
    assert [state for state, _, _ in _left(season, holder)] == ["refunded"] * 4
    assert _money(season) == (6000, 0, 0, 0, 6000, 0)

    # Stripe: that refund failed, the money is back. The shares are whole and deferred.
    events.append(s.event("refund.failed", s.stripe_object(
        "refund", id="re_dash_f", amount=6000, status="failed",
        payment_intent=holder["payment"]["payment_intent_id"], metadata={}),
        created=s.moment()))  # fmt: skip
    _send(season, events[-1])
    assert _absorb(season) == 1
    reversal = _posting(season, f"pass:{holder['holding_id']}:outside_failed:{refund.id}")
    assert reversal == {code: -amount for code, amount in taken.items()}
    assert _left(season, holder) == [("deferred", 1240, 261), ("deferred", 1240, 260),
                                     ("deferred", 1240, 260), ("deferred", 1239, 260)]  # fmt: skip
    assert _money(season) == (6000, 0, 4959, 1041, 0, 0)
    _nothing_twice(season, events)
    season.end(0)
    assert season.statement(0).pass_revenue == 1240
