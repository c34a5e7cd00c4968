from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import (
    BURN,
    MINT,
    EntryType,
    IdempotencyConflict,
    InsufficientFunds,
    Ledger,
    MemoryStore,
    Posting,
    TransferRequest,
)
from market.candles import build_candles
from market.curve import (
    BondingCurve,
    CurveConfig,
    CurveError,
    CurveOrder,
    DefenseGuard,
    MaxSupplyExceeded,
    OrderRefused,
    SlippageExceeded,
    reserve_account,
)
from market.portfolio import positions
from tests.support.clock import Clock

ALICE, BOB = "user:alice", "user:bob"
RESERVE = reserve_account("HEATHER")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def setup(config: CurveConfig | None = None, coins: int = 1_000_000, ledger: Ledger | None = None, **kw):
    ledger = ledger or Ledger(MemoryStore(), clock=lambda: T0)
    ledger.create_asset("HEATHER", 0)
    for u in (ALICE, BOB):
        ledger.mint(u, coins)
    return ledger, BondingCurve(ledger, "HEATHER", config or CurveConfig(), **kw)


def snapshot(ledger: Ledger) -> dict:
    return {a: ledger.balances(a) for a in (ALICE, BOB, RESERVE, "platform:revenue", BURN)}


def test_linear_curve_cost_is_the_exact_integral():
    _, curve = setup(CurveConfig(fee_bps=0))
    # price = 1 + s/1000; F(1000) = 1000 + 1000**2 / 2000 = 1500
    assert curve.quote_buy(1000).amount == 1500
    assert curve.spot_price() == 1


def test_classic_quadratic_curve():
    _, curve = setup(CurveConfig(base=0, slope=0, quad=Fraction(1, 3000), fee_bps=0))
    # F(s) = s**3 / 9000; F(30) = 3
    assert curve.quote_buy(30).amount == 3
    # F(40) - F(30) = (64000 - 27000) / 9000 = 4.11..., rounded up
    assert curve.quote_buy(10, supply=30).amount == 5
    assert curve.config.price(30) == Fraction(900, 3000)


def test_buy_rounds_the_cost_up_and_sell_rounds_the_payout_down():
    ledger, curve = setup(CurveConfig(base=0, slope=1, fee_bps=0))
    # F(s) = s**2 / 2: the first coin is worth 1/2 COIN
    fill = curve.buy(ALICE, 1)
    assert fill.quote.amount == 1
    assert curve.quote_sell(1).amount == 0
    curve.buy(ALICE, 2)  # F(3) - F(1) = 4 exactly
    assert ledger.balance(RESERVE) == 5
    assert curve.quote_sell(3).amount == 4  # floor(F(3)) = floor(4.5)


def test_buy_is_one_atomic_transaction_minting_to_the_buyer():
    ledger, curve = setup()
    fill = curve.buy(ALICE, 1000)
    assert fill.quote == curve.quote_buy(1000, supply=0)
    assert {e.tx_id for e in fill.transaction.entries} == {fill.transaction.id}
    assert len(fill.transaction.entries) == 3
    assert ledger.balance(ALICE, "HEATHER") == 1000
    assert ledger.balance(RESERVE) == 1500
    assert ledger.balance("platform:revenue") == 30  # 2% of 1500
    assert ledger.balance(ALICE) == 1_000_000 - 1530
    assert ledger.supply("HEATHER").circulating == curve.supply == 1000
    assert ledger.check().ok


def test_sell_burns_coins_and_pays_from_the_reserve_less_fee():
    ledger, curve = setup()
    curve.buy(ALICE, 1000)
    fill = curve.sell(ALICE, 400)
    payout = fill.quote.amount
    assert payout == 1500 - curve.config.integral(600)  # F(1000) - F(600), exact here
    assert fill.quote.fee == -(-payout * 200 // 10_000)
    assert ledger.balance(RESERVE) == 1500 - payout
    assert ledger.balance(BURN, "HEATHER") == 400
    assert ledger.balance(ALICE) == 1_000_000 - 1530 + payout - fill.quote.fee
    assert curve.supply == 600 and ledger.check().ok


def test_fee_can_be_burned_instead():
    ledger, curve = setup(CurveConfig(fee_to="burn"))
    curve.buy(ALICE, 1000)
    assert ledger.balance(BURN) == 30 and ledger.balance("platform:revenue") == 0


def test_max_supply_is_enforced_and_nothing_moves():
    ledger, curve = setup(CurveConfig(max_supply=100))
    curve.buy(ALICE, 60)
    before = snapshot(ledger)
    with pytest.raises(MaxSupplyExceeded):
        curve.buy(BOB, 41)
    assert snapshot(ledger) == before and curve.supply == 60
    curve.buy(BOB, 40)
    assert curve.supply == 100


def test_slippage_protection_on_both_sides():
    ledger, curve = setup()
    q = curve.quote_buy(1000)
    with pytest.raises(SlippageExceeded):
        curve.buy(ALICE, 1000, max_cost=q.total - 1)
    assert curve.supply == 0 and ledger.balance(RESERVE) == 0
    curve.buy(ALICE, 1000, max_cost=q.total)
    s = curve.quote_sell(500)
    with pytest.raises(SlippageExceeded):
        curve.sell(ALICE, 500, min_payout=s.total + 1)
    assert curve.supply == 1000
    assert curve.sell(ALICE, 500, min_payout=s.total).quote.total == s.total


def test_buy_for_a_budget_spends_no_more_than_it():
    ledger, curve = setup()
    fill = curve.buy_for(ALICE, 10_000)
    n = fill.quote.quantity
    assert fill.quote.total <= 10_000 < curve.quote_buy(n + 1, supply=0).total
    with pytest.raises(SlippageExceeded):
        curve.buy_for(BOB, 0)


def test_insufficient_funds_moves_nothing():
    ledger, curve = setup(coins=100)
    with pytest.raises(InsufficientFunds):
        curve.buy(ALICE, 1000)
    assert curve.supply == 0 and ledger.balance(ALICE) == 100
    with pytest.raises(CurveError):
        curve.sell(ALICE, 1)  # the curve issued nothing yet


def test_trades_have_integer_prices_and_add_up_to_the_fill():
    ledger, curve = setup(CurveConfig(base=Fraction(1, 3), slope=Fraction(1, 7)))
    fills = [curve.buy(ALICE, 37), curve.buy(BOB, 11), curve.sell(ALICE, 20)]
    for f in fills:
        assert all(t.quote == t.price * t.quantity for t in f.trades)
        assert sum(t.quote for t in f.trades) == f.quote.amount
        assert sum(t.quantity for t in f.trades) == f.quote.quantity
        assert sum(t.buyer_fee + t.seller_fee for t in f.trades) == f.quote.fee
    buys = fills[0].trades
    assert buys[0].buyer == ALICE and buys[0].seller == RESERVE and buys[0].taker_side == "buy"
    assert [t.price for t in buys] == sorted(t.price for t in buys)  # walking up the curve
    assert len({t.id for f in fills for t in f.trades}) == sum(len(f.trades) for f in fills)


def test_curve_trades_feed_candles_and_portfolios_unchanged():
    ledger, curve = setup()
    trades = [t for f in (curve.buy(ALICE, 1000), curve.sell(ALICE, 200)) for t in f.trades]
    c = build_candles(trades, "HEATHER", "1m", T0, T0 + timedelta(minutes=1))
    assert c[0].volume == 1200 and c[0].quote_volume == sum(t.quote for t in trades)
    p = positions(trades, account=ALICE)[ALICE, "HEATHER"]
    assert p.quantity == 800 == ledger.balance(ALICE, "HEATHER")


def test_supply_is_recovered_from_the_journal():
    ledger, curve = setup()
    curve.buy(ALICE, 700)
    curve.sell(ALICE, 100)
    again = BondingCurve(ledger, "HEATHER", curve.config)
    assert again.supply == 600
    assert again.quote_sell(600) == curve.quote_sell(600)


def test_coins_earned_elsewhere_cannot_drain_the_reserve():
    ledger, curve = setup(CurveConfig(base=100, slope=Fraction(1, 20), fee_bps=0))
    bought = curve.buy(ALICE, 500)
    ledger.post(TransferRequest((Posting(MINT, "user:shopper", "HEATHER", 1000),), EntryType.EARNED))
    reserve = ledger.balance(RESERVE)
    with pytest.raises(CurveError, match="issued"):
        curve.sell("user:shopper", 500)
    with pytest.raises(CurveError, match="issued"):
        curve.sell("user:shopper", 1)
    assert ledger.balance(RESERVE) == reserve and ledger.balance("user:shopper", "HEATHER") == 1000
    back = curve.sell(ALICE, 500)  # the buyer can still sell back all they bought
    assert back.quote.amount == bought.quote.amount and ledger.balance(RESERVE) == 0


def test_a_holder_sells_back_only_what_the_curve_issued_to_them():
    ledger, curve = setup()
    curve.buy(ALICE, 300)
    curve.buy(BOB, 100)
    ledger.transfer(BOB, ALICE, 50, asset="HEATHER")  # bob's coins do not become alice's claim
    with pytest.raises(CurveError, match="300"):
        curve.sell(ALICE, 301)
    curve.sell(ALICE, 300)
    curve.sell(BOB, 50)
    assert curve.outstanding(BOB) == 50 and curve.outstanding(ALICE) == 0
    assert BondingCurve(ledger, "HEATHER", curve.config).outstanding(BOB) == 50  # from the journal


def test_idempotent_retry_moves_nothing_twice():
    ledger, curve = setup()
    first = curve.buy(ALICE, 10, key="buy-1")
    again = curve.buy(ALICE, 10, key="buy-1")
    assert again.replayed and again.trades == () and again.transaction.id == first.transaction.id
    assert curve.supply == 10 and ledger.balance(ALICE, "HEATHER") == 10


def test_idempotent_retry_after_the_price_moved_and_a_restart_replays():
    ledger, curve = setup()
    first = curve.buy(ALICE, 10, key="b")
    curve.buy(BOB, 500)  # the price moves: a fresh quote would differ
    restarted = BondingCurve(ledger, "HEATHER", curve.config)
    again = restarted.buy(ALICE, 10, key="b")
    assert again.replayed and again.transaction.id == first.transaction.id
    assert again.quote == first.quote
    assert restarted.supply == 510 and ledger.balance(ALICE, "HEATHER") == 10
    with pytest.raises(IdempotencyConflict):
        restarted.buy(ALICE, 11, key="b")  # same key, another order
    sold = restarted.sell(ALICE, 4, key="s")
    again = BondingCurve(ledger, "HEATHER", curve.config).sell(ALICE, 4, key="s")
    assert again.replayed and again.transaction.entries == sold.transaction.entries
    assert len(again.transaction.entries) == 3  # coins burned, payout, fee


class CapGuard:
    """A holding cap as a guard: nobody may own more than ``cap`` coins."""

    def __init__(self, ledger: Ledger, cap: int) -> None:
        self.ledger, self.cap, self.seen = ledger, cap, []

    def approve(self, order: CurveOrder) -> None:
        if order.side == "buy" and self.ledger.balance(order.account, order.symbol) + order.quantity > self.cap:
            raise OrderRefused(f"holding cap {self.cap}")

    def record(self, fill) -> None:
        self.seen.append(fill.quote.quantity)


def test_a_guard_can_refuse_an_order_before_anything_moves():
    ledger, curve = setup()
    guard = CapGuard(ledger, 100)
    curve.guard = guard
    curve.buy(ALICE, 80)
    before = snapshot(ledger)
    with pytest.raises(OrderRefused, match="holding cap"):
        curve.buy(ALICE, 21)
    assert snapshot(ledger) == before and guard.seen == [80]


def test_bad_config_and_quantity_are_refused():
    with pytest.raises(ValueError):
        CurveConfig(base=0, slope=0, quad=0)
    with pytest.raises(ValueError):
        CurveConfig(fee_bps=-1)
    with pytest.raises(ValueError):
        CurveConfig(slope=0.001)  # type: ignore[arg-type]
    assert CurveConfig(slope="1/1000").slope == Fraction(1, 1000)  # type: ignore[arg-type]
    _, curve = setup()
    with pytest.raises(CurveError):
        curve.buy(ALICE, 0)
    with pytest.raises(CurveError):
        curve.buy(ALICE, 1.5)  # type: ignore[arg-type]


def test_curve_settles_over_every_store(make_ledger):
    ledger, curve = setup(ledger=make_ledger())
    curve.buy(ALICE, 500)
    curve.sell(ALICE, 200)
    assert BondingCurve(ledger, "HEATHER").supply == 300
    assert curve.solvency().ok and ledger.check().ok


ops = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from([ALICE, BOB, "user:carol"]), st.integers(1, 120)),
    max_size=40,
)
configs = st.builds(
    CurveConfig,
    base=st.fractions(min_value=0, max_value=5, max_denominator=13),
    slope=st.fractions(min_value=Fraction(1, 17), max_value=3, max_denominator=17),
    quad=st.sampled_from([Fraction(0), Fraction(1, 701), Fraction(2, 3)]),
    max_supply=st.just(400),
    fee_bps=st.integers(0, 500),
    fee_to=st.sampled_from(["revenue", "burn"]),
)


@settings(max_examples=80, deadline=None)
@given(configs, ops)
def test_reserve_always_covers_selling_back_the_whole_supply(config, script):
    ledger = Ledger(MemoryStore(), clock=lambda: T0)
    ledger.create_asset("HEATHER", 0)
    users = (ALICE, BOB, "user:carol")
    for u in users:
        ledger.mint(u, 10**8)
    curve = BondingCurve(ledger, "HEATHER", config)
    total_coin = 3 * 10**8

    def coin_everywhere() -> int:
        return sum(ledger.balance(a) for a in (*users, RESERVE, "platform:revenue", BURN))

    for side, who, n in script:
        try:
            if side == "buy":
                curve.buy(who, n)
            else:
                curve.sell(who, min(n, ledger.balance(who, "HEATHER")) or 1)
        except (CurveError, InsufficientFunds):
            pass
        s = curve.solvency()
        assert s.ok, s
        assert coin_everywhere() == total_coin
        assert curve.supply == sum(ledger.balance(u, "HEATHER") for u in users)
    # everyone sells everything back, in whatever pieces: the reserve pays every time
    for u in users:
        while (held := ledger.balance(u, "HEATHER")) > 0:
            curve.sell(u, max(1, held // 2))
    assert curve.supply == 0 and ledger.balance(RESERVE) >= 0
    assert coin_everywhere() == total_coin
    assert ledger.check().ok


# -- the market's defenses, plugged in through DefenseGuard ---------------------------
def defended(**defenses):
    from market.config import MarketConfig

    clock, alerts = Clock(T0), []
    ledger = Ledger(MemoryStore(), clock=clock)
    ledger.create_asset("HEATHER", 0)
    for u in (ALICE, BOB, "user:ring"):
        ledger.mint(u, 10**9)
    config = CurveConfig(max_supply=100_000)
    guard = DefenseGuard.from_config(ledger, "HEATHER", MarketConfig.bare(**defenses),
                                     max_supply=config.max_supply, alert=alerts.append)
    return ledger, BondingCurve(ledger, "HEATHER", config, guard=guard), clock, alerts


def test_holding_cap_stops_a_pump_on_the_curve_and_reports_it():
    from market.config import HoldingCap

    ledger, curve, _, alerts = defended(holding_cap=HoldingCap(enabled=True, supply_bps=100))  # cap 1,000
    curve.buy("user:ring", 900)
    before = snapshot(ledger)
    with pytest.raises(OrderRefused, match="holding_cap"):
        curve.buy("user:ring", 200)
    assert snapshot(ledger) == before and curve.supply == 900
    assert [(a.defense, a.action, a.account) for a in alerts] == [("holding_cap", "rejected", "user:ring")]


def test_honest_buyers_pass_the_holding_cap():
    from market.config import HoldingCap

    ledger, curve, _, alerts = defended(holding_cap=HoldingCap(enabled=True, supply_bps=100))
    for u in (ALICE, BOB, "user:ring"):
        curve.buy(u, 500)
        curve.buy(u, 500)
    assert curve.supply == 3000 and alerts == []


def test_rate_limit_refuses_a_rush_of_curve_orders_until_the_window_passes():
    from market.config import RateLimit

    ledger, curve, clock, alerts = defended(rate_limit=RateLimit(enabled=True, max_orders=3, window_seconds=60))
    for _ in range(3):
        curve.buy("user:ring", 10)
    with pytest.raises(OrderRefused, match="rate_limit"):
        curve.buy("user:ring", 10)
    curve.buy(ALICE, 10)  # per user: others are not held back
    clock.now += timedelta(seconds=61)
    curve.buy("user:ring", 10)
    assert curve.supply == 50 and [a.defense for a in alerts] == ["rate_limit"]


def test_daily_limit_counts_curve_fills():
    from market.config import DailyLimit

    ledger, curve, clock, alerts = defended(daily_limit=DailyLimit(enabled=True, supply_bps=10))  # 100 a day
    curve.buy("user:ring", 60)
    with pytest.raises(OrderRefused, match="daily_limit"):
        curve.sell("user:ring", 50)  # 60 bought + 50 sold > 100
    curve.sell("user:ring", 40)
    clock.now += timedelta(days=1)
    curve.buy("user:ring", 100)
    assert [a.defense for a in alerts] == ["daily_limit"]


def test_minimum_hold_applies_to_selling_back_to_the_curve():
    from market.config import MinHold

    ledger, curve, clock, alerts = defended(min_hold=MinHold(enabled=True, period_seconds=3600))
    curve.buy("user:ring", 100)
    with pytest.raises(OrderRefused, match="min_hold"):
        curve.sell("user:ring", 100)
    clock.now += timedelta(hours=1, seconds=1)
    curve.sell("user:ring", 100)
    assert curve.supply == 0 and [a.defense for a in alerts] == ["min_hold"]
