"""Settlement: one ledger transaction per fill, and the rounding rule conserves value."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from ledger import BURN, ESCROW, Ledger, MemoryStore
from market import Exchange, MarketConfig, fee

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYM = "HEATHER"


def make(**cfg) -> tuple[Exchange, Ledger]:
    ledger = Ledger(MemoryStore(), clock=lambda: T0)
    ex = Exchange(ledger, MarketConfig.bare(**cfg), clock=lambda: T0)
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=10, allocation=0)
    for u in ("a", "b"):
        ledger.mint(f"user:{u}", 10_000_000)
    ex.airdrop(SYM, ["user:a", "user:b"], 100_000)
    return ex, ledger


def test_fee_rule_is_floor_of_quote_times_bps():
    assert fee(4999, 200) == 99  # 99.98 floored
    assert fee(50, 200) == 1
    assert fee(49, 200) == 0
    assert fee(0, 200) == 0


def test_each_fill_is_one_ledger_transaction():
    ex, ledger = make()
    ex.limit(SYM, "user:a", "sell", 5, 11)
    ex.limit(SYM, "user:a", "sell", 5, 12)
    journal = ledger.store.book.journal
    before = len(journal)
    taker = ex.limit(SYM, "user:b", "buy", 10, 12, tif="IOC")
    new = journal[before:]
    assert len(taker.trades) == 2
    assert len({e.tx_id for e in new}) == 2  # two fills, two transactions
    for tx in {e.tx_id for e in new}:
        legs = [e for e in new if e.tx_id == tx]
        assert {e.entry_type for e in legs} == {"TRADE", "FEE"}
        assert any(e.from_account == ESCROW for e in legs)  # the maker's hold
        assert any(e.from_account == "user:b" for e in legs)  # the taker's own legs


def test_resting_order_is_one_lock_and_cancel_one_void():
    ex, ledger = make()
    journal = ledger.store.book.journal
    n = len(journal)
    order = ex.limit(SYM, "user:a", "buy", 5, 9)
    assert [e.entry_type for e in journal[n:]] == ["HOLD_LOCK"]
    ex.cancel(order.id)
    assert [e.entry_type for e in journal[n + 1:]] == ["HOLD_RETURN"]


def test_rounding_conserves_value_over_many_odd_fills():
    """Buyers pay exactly sum(quote) + sum(buyer fees), sellers get exactly sum(quote) -
    sum(seller fees), the fee account gets exactly the fees: no unit appears or vanishes."""
    ex, ledger = make(maker_fee_bps=137, taker_fee_bps=263)
    rng = random.Random(3)
    start = {(u, a): ledger.balance(u, a) for u in ("user:a", "user:b") for a in ("COIN", SYM)}
    for _ in range(300):
        seller, buyer = ("user:a", "user:b") if rng.random() < 0.5 else ("user:b", "user:a")
        price, qty = rng.randint(1, 997), rng.randint(1, 37)
        if rng.random() < 0.5:
            ex.limit(SYM, seller, "sell", qty, price)
            ex.limit(SYM, buyer, "buy", rng.randint(1, qty), price, tif="IOC")
        else:
            ex.limit(SYM, buyer, "buy", qty, price)
            ex.limit(SYM, seller, "sell", rng.randint(1, qty), price, tif="IOC")
        for o in list(ex.live.values()):
            ex.cancel(o.id)
    paid = {u: 0 for u in ("user:a", "user:b")}
    coins = {u: 0 for u in ("user:a", "user:b")}
    fees = 0
    for t in ex.trades:
        assert t.quote == t.price * t.quantity
        assert t.buyer_fee == t.quote * (263 if t.taker_side == "buy" else 137) // 10000
        assert t.seller_fee == t.quote * (263 if t.taker_side == "sell" else 137) // 10000
        paid[t.buyer] -= t.quote + t.buyer_fee
        paid[t.seller] += t.quote - t.seller_fee
        coins[t.buyer] += t.quantity
        coins[t.seller] -= t.quantity
        fees += t.buyer_fee + t.seller_fee
    assert len(ex.trades) > 200
    for u in ("user:a", "user:b"):
        assert ledger.balance(u, "COIN") == start[(u, "COIN")] + paid[u]
        assert ledger.balance(u, SYM) == start[(u, SYM)] + coins[u]
    assert ledger.balance("platform:revenue", "COIN") == fees
    assert ledger.balance(ESCROW, "COIN") == 0 and ledger.balance(ESCROW, SYM) == 0
    assert ledger.check().ok


def test_burned_fees_leave_supply_consistent():
    ex, ledger = make(fee_destination="burn")
    issued = ledger.supply("COIN").issued
    ex.limit(SYM, "user:a", "sell", 100, 77)
    ex.limit(SYM, "user:b", "buy", 100, 77)
    s = ledger.supply("COIN")
    assert s.issued == issued and s.burned == ledger.balance(BURN, "COIN") == 2 * (7700 * 200 // 10000)
    assert ledger.balance("user:a", "COIN") + ledger.balance("user:b", "COIN") == s.circulating
