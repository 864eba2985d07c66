"""The issue's season: four concerts, a €60 pass with equal weights, three ticket
buyers per concert, ten pass holders. Each concert's statement holds exactly its share
of the pass money once it ended, split to its performers; a pass refunded after two
concerts returns the unplayed share; a cancelled third concert refunds its share to
every holder; the pass money's identity holds throughout."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from config.settings import Settings
from streamsvc.db import Database
from streamsvc.kit.clock import FixedClock
from streamsvc.orders import cancellation
from streamsvc.passes import claims, recognition
from streamsvc.passes.models import PassShare, ShareState
from streamsvc.payments.models import Refund
from tests.finance.books import card_fee
from tests.passes.season import Season, largest_remainder, make_season

PRICE, VAT_BPS = 6000, 900


def _expected_share() -> tuple[list[int], list[int], list[int]]:
    """Per concert: (net, VAT, fee) of one pass, computed here independently."""
    vat = largest_remainder(PRICE, [10_000, VAT_BPS])[1]
    net = PRICE - vat
    fee = card_fee(PRICE)
    return (largest_remainder(net, [1] * 4), largest_remainder(vat, [1] * 4),
            largest_remainder(fee, [1] * 4))  # fmt: skip


def _check_identity(season: Season) -> None:
    money = season.money()
    assert money.balanced, money
    assert money.payments == PRICE * len(season.holders)


def _claim(season: Season, holder: dict[str, Any], concert: int) -> claims.Claimed:
    with season.database.unit_of_work() as uow:
        return claims.claim(uow, season.settings, holder["holding_id"],
                            season.concerts[concert].event["id"], season.clock.now())  # fmt: skip


def test_the_season(
    client: TestClient, database: Database, settings: Settings, clock: FixedClock
) -> None:
    season = make_season(client, database, settings, clock, price=PRICE, vat_bps=VAT_BPS)
    for world in season.concerts:
        for _ in range(3):
            world.buy([(0, 1)])
    holders = [season.buy_pass() for _ in range(10)]
    nets, vats, fees = _expected_share()
    assert sum(nets) + sum(vats) == PRICE
    _check_identity(season)

    # Holders claim some concerts (holder i skips concert i % 4); claiming twice is the
    # same ticket.
    for i, holder in enumerate(holders):
        for concert in range(4):
            if concert != i % 4:
                first = _claim(season, holder, concert)
                assert first.new
    again = _claim(season, holders[1], 0)
    assert not again.new
    assert again.ticket_id == _claim(season, holders[1], 0).ticket_id

    recognised: list[int] = []

    def check_concert(index: int, holders_recognised: int) -> None:
        st = season.statement(index)
        assert st.pass_revenue == nets[index] * holders_recognised
        assert st.pass_fees == fees[index] * holders_recognised
        assert st.gross == 3 * 2500  # the tickets, unchanged by the pass
        assert st.revenue_ex_vat == st.gross - st.refunds - st.disputes - st.vat + st.pass_revenue
        assert st.undistributed == 0
        performer = [p for p in st.parties if p.party.type == "performer"]
        assert len(performer) == 1
        venue_part, performer_part = largest_remainder(st.distributable, [6000, 4000])
        assert performer[0].amount == performer_part
        assert [p.amount for p in st.parties if p.party.type == "venue"] == [venue_part]
        assert sum(p.amount for p in st.parties) == st.distributable
        recognised.append(st.pass_revenue)
        _check_identity(season)

    # Concerts 1 and 2 end: their shares of all ten passes are recognised.
    season.end(0)
    check_concert(0, 10)
    season.end(1)
    check_concert(1, 10)
    assert season.settle(1) == 0  # settling again changes nothing

    # Holder 0 asks for a refund: the unplayed share (concerts 3 and 4) comes back.
    with database.unit_of_work() as uow:
        refund = recognition.refund_holding(uow.session, season.venue.id, holders[0]["holding_id"],
                                            clock.now(), reason="moving abroad")  # fmt: skip
        assert refund.amount == nets[2] + vats[2] + nets[3] + vats[3]
    _check_identity(season)

    # Concert 3 is cancelled: its share goes back to the nine others.
    with database.unit_of_work() as uow:
        cancellation.cancel_event(uow.session, season.venue.id,
                                  season.concerts[2].event["id"], clock.now())  # fmt: skip
    assert season.settle(2) == 9
    with database.unit_of_work() as uow:
        cancelled = list(uow.session.exec(select(Refund).where(
            Refund.origin == "pass", Refund.amount == nets[2] + vats[2])))  # fmt: skip
        assert len({r.order_id for r in cancelled}) == 9
    assert season.statement(2).pass_revenue == 0
    _check_identity(season)

    # Concert 4 ends: the nine holders still in force pay it their share.
    season.end(3)
    check_concert(3, 9)
    money = season.money()
    assert money.deferred == 0
    assert money.recognised == sum(recognised)
    assert money.refunds == (nets[2] + vats[2] + nets[3] + vats[3]) + 9 * (nets[2] + vats[2])
    with database.unit_of_work() as uow:
        states = {share.state for share in uow.session.exec(select(PassShare))}
    assert ShareState.deferred not in states
