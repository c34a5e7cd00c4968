"""The manipulation-resistant reference price: what the band is centred on and what
every payout is valued at. A ring trading with itself cannot move it; honest trades
between enough distinct accounts do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger import Ledger, MemoryStore
from market import Exchange, MarketConfig, OrderStatus
from market.config import ReferencePrice
from market.detector import scan
from market.reference import RobustPrice, rings
from tests.support.clock import Clock

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYM = "HEATHER"
RING = ("user:ring1", "user:ring2")


def make(config: MarketConfig | None = None) -> tuple[Exchange, Ledger, Clock]:
    clock = Clock(T0)
    ledger = Ledger(MemoryStore(), clock=clock)
    ex = Exchange(ledger, config or MarketConfig(), clock=clock)
    ex.launch(SYM, "Heather's coin", "user:heather", initial_price=100)
    users = [*RING, *(f"user:u{i}" for i in range(8))]
    for u in users:
        ledger.mint(u, 10_000_000)
    ex.airdrop(SYM, users, 1_000)
    return ex, ledger, clock


def band_edge_ratchet(ex: Exchange, clock: Clock, hours: int = 48) -> list:
    """The issue's attack: the two ring accounts take turns selling 1 coin to each other
    at the top of the price band, one trade every 6 minutes (outside the breaker's
    5-minute window)."""
    market = ex.markets[SYM]
    taken = []
    for i in range(hours * 10):
        seller, buyer = RING if i % 2 == 0 else RING[::-1]
        edge = market.reference_price(clock.now) * 11_000 // 10_000
        ex.limit(SYM, seller, "sell", 1, edge)
        taken.append(ex.limit(SYM, buyer, "buy", 1, edge, tif="IOC"))
        clock.advance(minutes=6)
    return taken


def test_a_ring_trading_at_the_band_edge_cannot_ratchet_the_price_or_the_redeem_value():
    ex, ledger, clock = make()
    taken = band_edge_ratchet(ex, clock)
    assert all(o.status == OrderStatus.FILLED for o in taken)  # the trades happen...
    assert max(t.price for o in taken for t in o.trades) <= 110  # ...but the band stays around 100
    assert ex.reference_price(SYM) == 100
    assert ex.redeem(SYM, RING[0], 100) == 100 * 100  # not 874,500
    assert ledger.check().ok
    wash = [a for a in scan(ex.trades) if a.kind == "wash_trading"]
    assert [a.evidence["accounts"] for a in wash] == [sorted(RING)] * 2  # one alert per 24 hours


def test_honest_trades_between_many_accounts_move_the_redeem_value():
    ex, _, clock = make()
    ex.limit(SYM, "user:u0", "sell", 100, 108)
    for i in range(1, 6):
        ex.limit(SYM, f"user:u{i}", "buy", 20, 108)
    assert ex.redeem(SYM, "user:u6", 10) == 1080


# -- the robust price on its own ------------------------------------------------------------
def tracker(**cfg) -> RobustPrice:
    return RobustPrice(ReferencePrice(**cfg), 100)


def feed(rp: RobustPrice, trades: list[tuple[str, str, int, int]], at: datetime = T0) -> None:
    for buyer, seller, price, qty in trades:
        rp.add(at, buyer, seller, price, qty)


SPREAD = [(f"user:b{i}", "user:mm", 101, 20) for i in range(4)] + [("user:b4", "user:mm", 106, 20)]


def test_trades_between_enough_distinct_accounts_set_a_floored_vwap():
    rp = tracker()
    feed(rp, SPREAD + [("user:b5", "user:mm", 103, 1)])  # 10,303 COIN for 101 coins: 102.0099
    assert rp.at(T0) == 102


def test_too_few_accounts_leave_the_price_where_it_was():
    rp = tracker()
    feed(rp, [("user:b0", "user:mm", 150, 50), ("user:b1", "user:mm", 150, 50),
              ("user:b2", "user:mm", 150, 50)])  # four accounts; five are needed
    assert rp.at(T0) == 100


def test_too_little_volume_leaves_the_price_where_it_was():
    rp = tracker(min_volume=101)
    feed(rp, SPREAD)
    assert rp.at(T0) == 100


def test_a_ring_among_honest_trades_is_left_out():
    rp = tracker()
    feed(rp, SPREAD + [("user:x", "user:y", 5000, 1), ("user:y", "user:x", 5000, 1)] * 3)
    assert rp.at(T0) == 102


def test_the_fills_of_one_sweeping_order_are_one_trade_to_the_ring_test():
    rp = tracker()
    sweep = [("user:b0", "user:mm", 101, 20)] * 3  # one buy took three of mm's asks
    for buyer, seller, price, qty in sweep + SPREAD[1:]:
        rp.add(T0, buyer, seller, price, qty, order=7 if buyer == "user:b0" else None)
    assert rp.at(T0) == 101  # 14,240 COIN for 140 coins: b0's three fills counted


def test_a_self_trade_is_left_out():
    rp = tracker()
    feed(rp, [*SPREAD, ("user:mm", "user:mm", 5000, 100)])
    assert rp.at(T0) == 102


def test_when_the_window_empties_the_last_robust_price_stays():
    rp = tracker(window_seconds=3600)
    feed(rp, SPREAD)
    assert rp.at(T0) == 102
    feed(rp, [("user:x", "user:y", 5000, 100), ("user:y", "user:x", 5000, 100)] * 2, at=T0 + timedelta(minutes=59))
    assert rp.at(T0 + timedelta(minutes=59)) == 102  # a ring's trades do not count
    assert rp.at(T0 + timedelta(hours=2)) == 102  # only the ring is left: the last robust price holds


def test_a_trade_leaves_the_window_exactly_window_seconds_later():
    rp = tracker(window_seconds=3600, min_accounts=2, min_volume=1)
    feed(rp, [("user:a", "user:b", 120, 1)])
    feed(rp, [("user:c", "user:d", 90, 1)], at=T0 + timedelta(minutes=30))
    assert rp.at(T0 + timedelta(minutes=59)) == 105
    assert rp.at(T0 + timedelta(minutes=60)) == 90


# -- rings ------------------------------------------------------------------------------------
def ring_sets(pairs: list[tuple[str, str]], **kw) -> list[set[str]]:
    opts = {"min_repeats": 3, "max_accounts": 8, "share_bps": 5000} | kw
    return [set(r) for r in rings(pairs, **opts)]


def test_two_accounts_trading_back_and_forth_are_a_ring():
    assert ring_sets([("a", "b"), ("b", "a"), ("a", "b")]) == [{"a", "b"}]


def test_two_trades_are_not_yet_a_ring():
    assert ring_sets([("a", "b"), ("b", "a")]) == []


def test_three_accounts_taking_turns_are_one_ring():
    assert ring_sets([("a", "b"), ("b", "c"), ("c", "a")] * 3) == [{"a", "b", "c"}]


def test_a_pair_that_trades_mostly_with_others_is_not_a_ring():
    pairs = [("a", "b")] * 3 + [("a", f"x{i}") for i in range(4)]  # a: 3 of 7 trades with b
    assert ring_sets(pairs) == []


def test_a_group_larger_than_max_accounts_is_not_a_ring():
    pairs = [("a", "b"), ("b", "c"), ("c", "a")] * 3
    assert ring_sets(pairs, max_accounts=2) == []


def test_the_trades_matching_hands_over_count_as_their_fields_say():
    """Matching appends its Trades to the window as they are (add_trade): their time,
    buyer, seller, price, quantity and taker order count, as with add."""
    from market import Trade

    by_fields, by_trade = tracker(), tracker()
    trades = [Trade(i, SYM, T0, price, qty, price * qty, buyer, seller, "buy", 900 + i, taker, 0, 0)
              for i, (buyer, seller, price, qty, taker) in enumerate(
                  [(f"user:b{i}", "user:mm", 101 + i, 20, i) for i in range(5)]
                  + [("user:r1", "user:r2", 200, 50, 7), ("user:r2", "user:r1", 200, 50, 8)] * 3)]
    for t in trades:
        by_fields.add(t.time, t.buyer, t.seller, t.price, t.quantity, t.taker_order_id)
        by_trade.add_trade(t)
    assert by_trade.at(T0) == by_fields.at(T0) == 103  # the ring's trades left out
    assert by_trade.at(T0 + timedelta(hours=2)) == by_fields.at(T0 + timedelta(hours=2)) == 103  # window empty
