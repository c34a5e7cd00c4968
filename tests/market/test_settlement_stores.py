"""The same trading settles identically on every ledger store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger import ESCROW, HoldStatus
from market import Exchange, MarketConfig, OrderStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYM = "HEATHER"


def test_lock_fill_cancel_round_trip_on_every_store(make_ledger):
    ledger = make_ledger(clock=lambda: T0)
    ex = Exchange(ledger, MarketConfig.bare(), clock=lambda: T0)
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=10, allocation=1000)
    ledger.mint("user:ann", 100_000)
    ask = ex.limit(SYM, "user:heather", "sell", 300, 12)
    bid = ex.limit(SYM, "user:ann", "buy", 500, 11)
    taker = ex.limit(SYM, "user:ann", "buy", 100, 12)  # partial fill of the ask
    assert taker.status == OrderStatus.FILLED and ask.remaining == 200
    sold = ex.market_order(SYM, "user:heather", "sell", 200, protection=11)  # partial fill of the bid
    assert sold.filled == 200 and bid.remaining == 300
    ex.cancel(ask.id)
    ex.cancel(bid.id)
    assert ledger.balance(ESCROW, "COIN") == 0 and ledger.balance(ESCROW, SYM) == 0
    assert ledger.store.holds(status=HoldStatus.LOCKED) == []
    assert ledger.balance("user:ann", SYM) == 300
    # ann paid 100*12 + 200*11 plus 2% on each side she was on (taker, then maker)
    assert ledger.balance("user:ann", "COIN") == 100_000 - 1200 - 24 - 2200 - 44
    assert ledger.balance("user:heather", "COIN") == 1200 - 24 + 2200 - 44
    assert ledger.check().ok
